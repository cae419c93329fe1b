"""Webhooks and their attempts, as ADMIN sees them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from tidings.core.enums import WebhookDeliveryStatus, WebhookEventType
from tidings.core.models import Webhook as WebhookModel
from tidings.core.models import WebhookDelivery as WebhookDeliveryModel
from tidings.schema.enums import WebhookDeliveryStatusEnum, WebhookEventTypeEnum
from tidings.schema.errors import ERRORS, UserError
from tidings.schema.ids import to_global_id


@strawberry.type(
    description="An endpoint of the company's own systems that Tidings POSTs events to, signed "
    "with its secret (`X-Tidings-Signature`). ADMIN only."
)
class Webhook:
    id: strawberry.ID = strawberry.field(description="The webhook's global ID.")
    url: str = strawberry.field(description="Where events are POSTed.")
    events: list[WebhookEventTypeEnum] = strawberry.field(  # type: ignore[valid-type]
        description="The event types it hears about."
    )
    created_at: datetime = strawberry.field(description="When it was created.")

    @classmethod
    def from_model(cls, row: WebhookModel) -> Webhook:
        return cls(
            id=to_global_id("Webhook", row.id),
            url=row.url,
            events=[WebhookEventType(e) for e in row.event_types],
            created_at=row.created_at,
        )


@strawberry.type(description="One event on its way to one webhook, with its attempts so far.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="This row's global ID.")
    event_id: str = strawberry.field(
        description="The event's id, stable across retries: the body's `id` and the "
        "`X-Tidings-Event-Id` header, for the receiver to drop repeats."
    )
    event_type: WebhookEventTypeEnum = strawberry.field(  # type: ignore[valid-type]
        description="What happened."
    )
    status: WebhookDeliveryStatusEnum = strawberry.field(  # type: ignore[valid-type]
        description="Where it stands."
    )
    attempts: int = strawberry.field(description="How many attempts were made.")
    last_error: str | None = strawberry.field(
        description='Why the last attempt failed, e.g. "HTTP 503" or "connection failed"; null '
        "when none failed, or the last one succeeded."
    )
    last_status_code: int | None = strawberry.field(
        description="The HTTP status of the last answer; null when there was none."
    )
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due (PENDING only); backoff doubles from 10 "
        "seconds up to an hour."
    )
    delivered_at: datetime | None = strawberry.field(
        description="When the endpoint accepted it; null until then."
    )
    created_at: datetime = strawberry.field(description="When the event was written.")

    @classmethod
    def from_model(cls, row: WebhookDeliveryModel) -> WebhookDelivery:
        pending = row.status is WebhookDeliveryStatus.PENDING
        return cls(
            id=to_global_id("WebhookDelivery", row.id),
            event_id=str(row.event_id),
            event_type=WebhookEventType(row.event_type),
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            last_status_code=row.last_status_code,
            next_attempt_at=row.next_attempt_at if pending else None,
            delivered_at=row.delivered_at,
            created_at=row.created_at,
        )


@strawberry.type(description="The result of createWebhook.")
class CreateWebhookPayload:
    webhook: Webhook | None = strawberry.field(
        default=None, description="The webhook; null when `errors` says why not."
    )
    secret: str | None = strawberry.field(
        default=None,
        description="The signing secret, shown this once: keep it to verify "
        "`X-Tidings-Signature`. It is never returned again.",
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The result of deleteWebhook.")
class WebhookPayload:
    webhook: Webhook | None = strawberry.field(
        default=None, description="The webhook, now deleted; null when `errors` says why not."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)
