"""The in-app provider: stores each notification in the customer's inbox.

The only provider that imports `tidings.core`: the inbox is Tidings' own table. Storing is
idempotent by delivery id, so a retry after a crash never shows a notification twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from tortoise import BaseDBAsyncClient, connections

from tidings.core.ids import new_id
from tidings.core.models.messages import Notification
from tidings.plugins import OutboundMessage, SendResult, hookimpl


class InAppProvider:
    name = "inbox"
    channel = "in_app"
    max_batch = 500
    # A notification is in the inbox once sent: the send itself is the receipt.
    reports_receipts = True

    def __repr__(self) -> str:
        return "<InAppProvider>"

    async def start(self) -> None:
        return None

    async def send(self, batch: Sequence[OutboundMessage]) -> Sequence[SendResult]:
        conn = connections.get("default")
        if conn.capabilities.dialect == "postgres":
            ids = await _store_pg(conn, batch)
        else:
            ids = await _store(batch)
        return [SendResult(ok=True, provider_id=ids[m.delivery_id]) for m in batch]

    async def aclose(self) -> None:
        return None


async def _store(batch: Sequence[OutboundMessage]) -> dict[str, str]:
    """The notification id of each delivery: the ones stored before kept, the rest stored."""
    delivery_ids = [uuid.UUID(m.delivery_id) for m in batch]
    existing = {
        str(row_id): str(notification_id)
        for row_id, notification_id in await Notification.filter(
            delivery_id__in=delivery_ids
        ).values_list("delivery_id", "id")
    }
    rows = [
        Notification(
            customer_id=uuid.UUID(m.address),
            delivery_id=uuid.UUID(m.delivery_id),
            category=m.category,
            title=m.title,
            body=m.body,
            data=dict(m.data) or None,
        )
        for m in batch
        if m.delivery_id not in existing
    ]
    if rows:
        await Notification.bulk_create(rows)
    return {str(row.delivery_id): str(row.id) for row in rows} | existing


# One statement a batch on PostgreSQL, whatever its size: the rows as arrays, a delivery
# stored before (a retry after a crash) left as it is and read back after.
_PG_STORE = """
INSERT INTO notifications (id, customer_id, delivery_id, category, title, body, data, created_at)
SELECT n.id, n.customer_id, n.delivery_id, n.category, n.title, n.body, n.data::jsonb, $8
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[])
  AS n(id, customer_id, delivery_id, category, title, body, data)
ON CONFLICT (delivery_id) DO NOTHING
RETURNING delivery_id, id
"""
_PG_STORED = "SELECT delivery_id, id FROM notifications WHERE delivery_id = ANY($1::uuid[])"


async def _store_pg(conn: BaseDBAsyncClient, batch: Sequence[OutboundMessage]) -> dict[str, str]:
    columns: list[list[object]] = [[], [], [], [], [], [], []]
    for m in batch:
        data = json.dumps(dict(m.data), separators=(",", ":")) if m.data else None
        row = (new_id(), m.address, m.delivery_id, m.category, m.title, m.body, data)
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    _, stored = await conn.execute_query(_PG_STORE, [*columns, datetime.now(UTC)])
    ids = {str(row[0]): str(row[1]) for row in stored}
    before = [m.delivery_id for m in batch if m.delivery_id not in ids]
    if before:
        _, found = await conn.execute_query(_PG_STORED, [before])
        ids |= {str(row[0]): str(row[1]) for row in found}
    return ids


@hookimpl
def tidings_providers(config: Mapping[str, str]) -> list[InAppProvider]:
    return [InAppProvider()]
