"""The in-app provider: stores each notification in the customer's inbox.

The only provider that imports `tidings.core`: the inbox is Tidings' own table. Storing is
idempotent by delivery id, so a retry after a crash never shows a notification twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

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
        ids = {str(row.delivery_id): str(row.id) for row in rows} | existing
        return [SendResult(ok=True, provider_id=ids[m.delivery_id]) for m in batch]

    async def aclose(self) -> None:
        return None


@hookimpl
def tidings_providers(config: Mapping[str, str]) -> list[InAppProvider]:
    return [InAppProvider()]
