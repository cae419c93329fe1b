"""A customer's data as one JSON document (GDPR Art. 20, PIPL Art. 45): docs/data-rights.md
describes the format. Built on demand and never stored: the download link regenerates it.

Reads are bounded: each table is read in keyset batches of BATCH rows by id, and the messages
of a batch of deliveries in one query, so the statements grow with rows / BATCH, never per row.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise.models import Model
from tortoise.queryset import QuerySet

from tidings.core.audit import record
from tidings.core.enums import Role
from tidings.core.errors import ForbiddenError, NotFoundError
from tidings.core.links import LinkSigner
from tidings.core.models import (
    AuditEntry,
    Customer,
    CustomerEvent,
    Delivery,
    DeliveryEvent,
    Device,
    Message,
    Notification,
    PermissionEntry,
    Preference,
)
from tidings.core.viewer import Viewer, resolve_target

SCHEMA_VERSION = 1
BATCH = 500


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        return value.value  # an enum
    return value


def _row(row: Model, names: tuple[str, ...], renamed: dict[str, str] | None = None) -> dict:
    renamed = renamed or {}
    return {renamed.get(n, _camel(n)): _value(getattr(row, n)) for n in names}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


async def _batches(query: QuerySet, key: str = "id", size: int = BATCH) -> AsyncIterator[list]:
    """`query`'s rows in batches, by keyset over `key` (ascending)."""
    after: Any = None
    while True:
        page = query.filter(**{f"{key}__gt": after}) if after is not None else query
        rows = await page.order_by(key).limit(size)
        if rows:
            yield rows
        if len(rows) < size:
            return
        after = getattr(rows[-1], key)


class ExportService:
    def __init__(self, links: LinkSigner) -> None:
        self.links = links

    async def export(
        self, viewer: Viewer, customer_id: uuid.UUID | None
    ) -> tuple[dict[str, Any], str]:
        """The document and a download link valid for a day: the customer's own (no id, or
        its own), or any customer's for ADMIN."""
        target = await self._target(viewer, customer_id)
        document = await self.document(target)
        await record("customer.export", actor=viewer.ref, customer_id=target)
        return document, self.links.export_url(target)

    async def _target(self, viewer: Viewer, customer_id: uuid.UUID | None) -> uuid.UUID:
        if viewer.is_customer:
            if customer_id is not None and customer_id != viewer.id:
                raise NotFoundError("customerId")  # another's: as if it did not exist
            customer_id = viewer.id
        elif not viewer.has_role(Role.ADMIN):
            raise ForbiddenError("Only ADMIN or the customer may export its data.")
        else:
            customer_id = resolve_target(viewer, customer_id)  # staff must name one
        if not await Customer.filter(id=customer_id).exists():
            raise NotFoundError("customerId")
        return customer_id

    async def download(self, token: str) -> tuple[uuid.UUID, dict[str, Any]] | None:
        """The document a download link names, or None (forged, expired, customer gone)."""
        customer_id = self.links.export_customer(token)
        if customer_id is None or not await Customer.filter(id=customer_id).exists():
            return None
        document = await self.document(customer_id)
        # Whoever holds the link: no caller is known, only the link's customer.
        await record("customer.export_download", customer_id=customer_id, detail={"via": "link"})
        return customer_id, document

    async def document(self, customer_id: uuid.UUID) -> dict[str, Any]:
        customer = await Customer.filter(id=customer_id).first()
        if customer is None:
            raise NotFoundError("customerId")
        doc: dict[str, Any] = {
            "schemaVersion": SCHEMA_VERSION,
            "generatedAt": datetime.now(UTC).isoformat(),
            "customer": _row(
                customer,
                ("id", "external_id", "name", "locale", "timezone", "tier", "attributes"),
            )
            | {
                "createdAt": _value(customer.created_at),
                "updatedAt": _value(customer.updated_at),
                "erasureRequestedAt": _value(customer.erasure_requested_at),
            },
            "contactPoints": [
                {"channel": channel, "address": address}
                for channel, address in (("email", customer.email), ("sms", customer.phone))
                if address
            ],
        }
        doc["devices"] = [
            _row(d, ("id", "platform", "created_at", "last_seen_at"))
            async for rows in _batches(Device.filter(customer_id=customer_id))
            for d in rows
        ]
        doc["consentLedger"] = [
            _row(
                e,
                (
                    "id",
                    "channel",
                    "category",
                    "status",
                    "source",
                    "evidence",
                    "granted_at",
                    "withdrawn_at",
                    "expires_at",
                    "recorded_by",
                    "recorded_at",
                ),
            )
            async for rows in _batches(PermissionEntry.filter(customer_id=customer_id))
            for e in rows
        ]
        doc["preferences"] = [
            _row(p, ("category", "channels", "frequency", "quiet_start", "quiet_end", "updated_at"))
            async for rows in _batches(Preference.filter(customer_id=customer_id))
            for p in rows
        ]
        doc["messages"], doc["deliveries"] = await self._deliveries(customer_id)
        doc["engagement"] = [
            {"deliveryId": d["id"], "kind": kind, "at": d[field]}
            for d in doc["deliveries"]
            for kind, field in (("OPENED", "openedAt"), ("CLICKED", "clickedAt"))
            if d[field] is not None
        ]
        doc["inbox"] = [
            _row(
                n,
                (
                    "id",
                    "delivery_id",
                    "category",
                    "title",
                    "body",
                    "data",
                    "created_at",
                    "read_at",
                    "archived_at",
                ),
            )
            async for rows in _batches(Notification.filter(customer_id=customer_id))
            for n in rows
        ]
        doc["conversions"] = [
            _row(
                c,
                (
                    "id",
                    "type",
                    "value",
                    "currency",
                    "occurred_at",
                    "recorded_at",
                    "attributed_delivery_id",
                    "attributed_message_id",
                ),
            )
            async for rows in _batches(CustomerEvent.filter(customer_id=customer_id))
            for c in rows
        ]
        doc["auditLog"] = [
            _row(a, ("id", "at", "action", "actor_kind", "actor_id", "targets", "detail"))
            async for rows in _batches(AuditEntry.filter(customer_id=customer_id))
            for a in rows
        ]
        return doc

    async def _deliveries(self, customer_id: uuid.UUID) -> tuple[list[dict], list[dict]]:
        """The customer's deliveries with their events, and the messages they carried: per
        batch of deliveries, one query for its messages and one for its events."""
        messages: dict[uuid.UUID, dict] = {}
        deliveries: list[dict] = []
        async for rows in _batches(Delivery.filter(customer_id=customer_id)):
            ids = [r.id for r in rows]
            wanted = list({r.message_id for r in rows} - set(messages))
            if wanted:
                for m in await Message.filter(id__in=wanted).order_by("id"):
                    messages[m.id] = _row(m, ("id", "category", "title", "body", "created_at"))
            events: dict[uuid.UUID, list[dict]] = {i: [] for i in ids}
            for ev in await DeliveryEvent.filter(delivery_id__in=ids).order_by("at", "id"):
                events[ev.delivery_id].append(_row(ev, ("kind", "at", "permanent", "provider")))
            for r in rows:
                item = _row(
                    r,
                    (
                        "id",
                        "message_id",
                        "channel",
                        "status",
                        "reason",
                        "created_at",
                        "delivered_at",
                        "opened_at",
                        "clicked_at",
                        "converted_at",
                        "unsubscribed_at",
                    ),
                )
                item["events"] = events[r.id]
                deliveries.append(item)
        return list(messages.values()), deliveries
