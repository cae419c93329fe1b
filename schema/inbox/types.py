"""GraphQL types for the customer's in-app inbox, built from rows or from live events."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from tidings.core.models.messages import Notification as NotificationModel
from tidings.schema.errors import ERRORS, UserError
from tidings.schema.ids import to_global_id
from tidings.schema.node import Node

TYPE_NAME = "Notification"


_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def notification_id(value: uuid.UUID | str) -> strawberry.ID:
    """The global ID of a notification, from its UUID (or the UUID's string form). A live
    event carries `str(uuid)`, used as it is: parsing it back only to print it again cost a
    tenth of rendering a live frame."""
    if isinstance(value, str) and _CANONICAL.fullmatch(value):
        return to_global_id(TYPE_NAME, value)
    return to_global_id(TYPE_NAME, value if isinstance(value, uuid.UUID) else uuid.UUID(value))


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


@strawberry.type(
    description="One in-app notification, as the customer's app receives it. Only ever "
    "returned to the customer it belongs to."
)
class Notification(Node):
    category: str = strawberry.field(description="The key of the message's category.")
    title: str = strawberry.field(description="The title, rendered for the customer.")
    body: str = strawberry.field(description="The body, rendered for the customer.")
    data: JSON | None = strawberry.field(
        description="The send's `data`, for the app (a deep link, an order id, ...); null if none."
    )
    created_at: datetime = strawberry.field(description="When it reached the inbox.")
    read_at: datetime | None = strawberry.field(description="When it was read; null: unread.")
    customer_uuid: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: NotificationModel) -> Notification:
        return cls(
            id=notification_id(row.id),
            category=row.category,
            title=row.title,
            body=row.body,
            data=row.data,
            created_at=row.created_at,
            read_at=row.read_at,
            customer_uuid=row.customer_id,
        )

    @classmethod
    def from_event_data(cls, data: dict[str, Any]) -> Notification:
        """From a live `notification` event (`core.live.publisher.notification_data`)."""
        return cls(
            id=notification_id(data["id"]),
            category=data["category"],
            title=data["title"],
            body=data["body"],
            data=data.get("data"),
            created_at=datetime.fromisoformat(data["created_at"]),
            read_at=_time(data.get("read_at")),
            customer_uuid=uuid.UUID(data["customer_id"]),
        )


@strawberry.type(description="Read and archive changes made on the customer's other devices.")
class InboxUpdate:
    unread_count: int = strawberry.field(description="The unread count after the change.")
    read_ids: list[strawberry.ID] = strawberry.field(description="Notifications newly marked read.")
    archived_ids: list[strawberry.ID] = strawberry.field(
        description="Notifications newly archived (taken out of the inbox)."
    )

    @classmethod
    def from_event_data(cls, data: dict[str, Any]) -> InboxUpdate:
        """From a live `inbox` event (`core.live.publisher.LivePublisher.inbox_changed`)."""
        return cls(
            unread_count=int(data["unread_count"]),
            read_ids=[notification_id(i) for i in data.get("read_ids", ())],
            archived_ids=[notification_id(i) for i in data.get("archived_ids", ())],
        )


@strawberry.type(description="The result of an inbox change.")
class InboxPayload:
    unread_count: int = strawberry.field(description="The caller's unread count, after the change.")
    errors: list[UserError] = strawberry.field(description=ERRORS)
