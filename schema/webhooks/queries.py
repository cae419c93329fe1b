"""webhooks and webhookDeliveries (ADMIN)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tidings.schema.context import Info
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.permissions import ADMIN_ONLY
from tidings.schema.relay import After, Connection, First, connection, page_size
from tidings.schema.webhooks.types import Webhook, WebhookDelivery


@strawberry.type
class WebhookQueries:
    @strawberry.field(
        permission_classes=[ADMIN_ONLY],
        description="The webhooks not deleted, oldest first (ADMIN).",
    )
    async def webhooks(self, info: Info) -> list[Webhook] | None:
        rows = await info.context.services.webhooks.list(info.context.viewer)
        return [Webhook.from_model(row) for row in rows]

    @strawberry.field(
        permission_classes=[ADMIN_ONLY],
        description="A webhook's events and their attempts, newest first (ADMIN); a deleted "
        "webhook's too.",
    )
    async def webhook_deliveries(
        self,
        info: Info,
        webhook_id: Annotated[strawberry.ID, strawberry.argument(description="The webhook.")],
        first: First = 20,
        after: After = None,
    ) -> Connection[WebhookDelivery] | None:
        ctx = info.context
        page = await ctx.services.webhooks.deliveries(
            ctx.viewer,
            parse_id(webhook_id, "Webhook") or MISSING,
            page_size(first, ctx.max_page_size),
            after,
        )
        return connection(page, WebhookDelivery.from_model)
