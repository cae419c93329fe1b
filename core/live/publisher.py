"""Turns committed changes into live events. Every method is called after the commit."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tidings.core.enums import DeliveryStatus
from tidings.core.live.bus import LiveBus
from tidings.core.live.events import (
    DELIVERY,
    INBOX,
    NOTIFICATION,
    REVOKED,
    LiveEvent,
    customer_topic,
    message_topic,
    viewer_topic,
)
from tidings.core.models.messages import Delivery, Notification

logger = logging.getLogger("tidings.live")


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def delivery_data(row: Delivery) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "message_id": str(row.message_id),
        "customer_id": str(row.customer_id),
        "channel": row.channel,
        "status": row.status.value if isinstance(row.status, DeliveryStatus) else row.status,
        "reason": row.reason,
        "rules": row.rules or [],
        "attempts": row.attempts,
        "not_before": _time(row.not_before),
        "provider": row.provider,
        "last_error": row.last_error,
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
        "delivered_at": _time(row.delivered_at),
        "opened_at": _time(row.opened_at),
        "clicked_at": _time(row.clicked_at),
    }


def delivery_row(data: dict[str, Any]) -> Delivery:
    """The inverse of `delivery_data`: an unsaved row, for the schema's `Delivery.from_model`."""

    def time(key: str) -> datetime | None:
        value = data.get(key)
        return datetime.fromisoformat(value) if value else None

    return Delivery(
        id=uuid.UUID(data["id"]),
        message_id=uuid.UUID(data["message_id"]),
        customer_id=uuid.UUID(data["customer_id"]),
        channel=data["channel"],
        status=DeliveryStatus(data["status"]),
        reason=data.get("reason"),
        rules=data.get("rules") or [],
        attempts=data.get("attempts", 0),
        not_before=time("not_before"),
        provider=data.get("provider"),
        last_error=data.get("last_error"),
        created_at=time("created_at"),
        updated_at=time("updated_at"),
        delivered_at=time("delivered_at"),
        opened_at=time("opened_at"),
        clicked_at=time("clicked_at"),
    )


def notification_data(row: Notification) -> dict[str, Any]:
    return _notification_values([getattr(row, column) for column in NOTIFICATION_COLUMNS])


NOTIFICATION_COLUMNS = (
    "id",
    "customer_id",
    "category",
    "title",
    "body",
    "data",
    "created_at",
    "read_at",
)


def _notification_values(row: Sequence[Any]) -> dict[str, Any]:
    """`notification_data` of a row of NOTIFICATION_COLUMNS."""
    notification_id, customer_id, category, title, body, data, created_at, read_at = row
    return {
        "id": str(notification_id),
        "customer_id": str(customer_id),
        "category": category,
        "title": title,
        "body": body,
        "data": data,
        "created_at": _time(created_at),
        "read_at": _time(read_at),
    }


class LivePublisher:
    def __init__(self, bus: LiveBus) -> None:
        self.bus = bus

    async def deliveries_changed(self, rows: Sequence[Delivery]) -> None:
        """A worker round's changed deliveries, and the in-app notifications they stored."""
        if not rows:
            return
        events = [LiveEvent(message_topic(r.message_id), DELIVERY, delivery_data(r)) for r in rows]
        stored = [
            r.id for r in rows if r.channel == "in_app" and r.status is DeliveryStatus.DELIVERED
        ]
        if stored:
            # Columns, not models: a batch is a thousand rows, and a model's construction
            # cost more than its read.
            notifications = (
                await Notification.filter(delivery_id__in=stored)
                .order_by("id")
                .values_list(*NOTIFICATION_COLUMNS)
            )
            events += [
                LiveEvent(customer_topic(n[1]), NOTIFICATION, _notification_values(n))
                for n in notifications
            ]
        await self.bus.publish(events)

    async def inbox_changed(
        self,
        customer_id: uuid.UUID,
        unread_count: int,
        read_ids: Sequence[uuid.UUID] = (),
        archived_ids: Sequence[uuid.UUID] = (),
    ) -> None:
        data = {
            "unread_count": unread_count,
            "read_ids": [str(i) for i in read_ids],
            "archived_ids": [str(i) for i in archived_ids],
        }
        await self.bus.publish([LiveEvent(customer_topic(customer_id), INBOX, data)])

    async def viewer_revoked(self, kind: str, viewer_id: uuid.UUID) -> None:
        """Tokens or access withdrawn: that caller's live streams re-check now, not at
        their next event."""
        await self.bus.publish([LiveEvent(viewer_topic(kind, viewer_id), REVOKED, {})])
