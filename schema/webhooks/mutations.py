"""createWebhook and deleteWebhook (ADMIN): thin calls into the webhook service."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tidings.schema.context import Info
from tidings.schema.enums import WebhookEventTypeEnum
from tidings.schema.errors import attempt
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.permissions import ADMIN_ONLY
from tidings.schema.webhooks.types import CreateWebhookPayload, Webhook, WebhookPayload


@strawberry.input(description="An endpoint to POST events to, and which events.")
class CreateWebhookInput:
    url: str = strawberry.field(
        description="http or https, without credentials. Private and loopback addresses are "
        "refused unless TIDINGS_WEBHOOK_ALLOW_PRIVATE allows them."
    )
    events: list[WebhookEventTypeEnum] = strawberry.field(  # type: ignore[valid-type]
        description="The event types to hear about; at least one."
    )


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="Start POSTing events to an endpoint (ADMIN). The payload carries the "
        "signing secret, this once.",
    )
    async def create_webhook(
        self,
        info: Info,
        input: Annotated[CreateWebhookInput, strawberry.argument(description="The webhook.")],
    ) -> CreateWebhookPayload | None:
        ctx = info.context
        created, errors = await attempt(
            ctx.services.webhooks.create(ctx.viewer, input.url, list(input.events))
        )
        if created is None:
            return CreateWebhookPayload(errors=errors)
        row, secret = created
        return CreateWebhookPayload(webhook=Webhook.from_model(row), secret=secret, errors=[])

    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="Stop a webhook (ADMIN): nothing more is sent to it, what waits is "
        "CANCELLED; its attempts stay listed.",
    )
    async def delete_webhook(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The webhook.")],
    ) -> WebhookPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.webhooks.delete(ctx.viewer, parse_id(id, "Webhook") or MISSING)
        )
        return WebhookPayload(webhook=Webhook.from_model(row) if row else None, errors=errors)
