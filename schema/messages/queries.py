"""Messages, deliveries, templates and delivery explanations."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tidings.core.enums import Role
from tidings.schema.context import Info
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.messages.outcomes import DeliveryExplanation
from tidings.schema.messages.types import Delivery, Message, Template
from tidings.schema.permissions import ANY_STAFF, staff_roles
from tidings.schema.relay import After, Connection, First, connection, page_size

ADMIN_OR_AUDITOR = staff_roles(Role.ADMIN, Role.AUDITOR)


@strawberry.type
class MessageQueries:
    @strawberry.field(
        permission_classes=[ANY_STAFF],
        description="A message, or null when it does not exist or you may not see it (staff "
        "see every message but agents, who see those they sent).",
    )
    async def message(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The message's global ID.")],
    ) -> Message | None:
        row = await info.context.services.messages.get(
            info.context.viewer, parse_id(id, "Message") or MISSING
        )
        return Message.from_model(row) if row else None

    @strawberry.field(
        permission_classes=[ANY_STAFF],
        description="Messages you may see, newest first (an agent: those it sent).",
    )
    async def messages(
        self,
        info: Info,
        first: First = 20,
        after: After = None,
        category: Annotated[
            str | None, strawberry.argument(description="Only messages of this category key.")
        ] = None,
    ) -> Connection[Message] | None:
        ctx = info.context
        page = await ctx.services.messages.list(
            ctx.viewer, page_size(first, ctx.max_page_size), after, category
        )
        return connection(page, Message.from_model)

    @strawberry.field(
        permission_classes=[ADMIN_OR_AUDITOR],
        description="FAILED deliveries of every message, oldest first (ADMIN and AUDITOR).",
    )
    async def failed_deliveries(
        self, info: Info, first: First = 20, after: After = None
    ) -> Connection[Delivery] | None:
        ctx = info.context
        page = await ctx.services.messages.failed(
            ctx.viewer, page_size(first, ctx.max_page_size), after
        )
        return connection(page, Delivery.from_model)

    @strawberry.field(
        permission_classes=[ANY_STAFF],
        description="How a delivery would be decided now, with every rule; nothing is sent.",
    )
    async def explain_delivery(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID, strawberry.argument(description="The customer, as you may see it.")
        ],
        category: Annotated[str, strawberry.argument(description="The category's key.")],
        channel: Annotated[str, strawberry.argument(description="The channel to decide.")],
    ) -> DeliveryExplanation | None:
        ctx = info.context
        decision = await ctx.services.sending.explain(
            ctx.viewer, parse_id(customer_id, "Customer") or MISSING, category, channel
        )
        return DeliveryExplanation.from_decision(decision)

    @strawberry.field(
        permission_classes=[ANY_STAFF],
        description="Stored templates, by category, channel and locale (any staff role; "
        "AUDITOR reads no content).",
    )
    async def templates(
        self,
        info: Info,
        category: Annotated[
            str | None, strawberry.argument(description="Only templates of this category key.")
        ] = None,
    ) -> list[Template] | None:
        rows = await info.context.services.messages.templates(category)
        return [Template.from_model(row) for row in rows]
