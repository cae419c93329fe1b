"""suppressions: the addresses bounces stopped, for any staff role."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tidings.schema.context import Info
from tidings.schema.permissions import ANY_STAFF
from tidings.schema.relay import After, Connection, First, connection, page_size
from tidings.schema.suppressions.types import Suppression


@strawberry.type
class SuppressionQueries:
    @strawberry.field(
        permission_classes=[ANY_STAFF],
        description="Suppressed addresses, lifted ones included, newest first (any staff role). "
        "Each names its channel and reason, never an address.",
    )
    async def suppressions(
        self,
        info: Info,
        first: First = 20,
        after: After = None,
        channel: Annotated[
            str | None, strawberry.argument(description="Only suppressions on this channel.")
        ] = None,
    ) -> Connection[Suppression] | None:
        ctx = info.context
        page = await ctx.services.suppressions.list(
            ctx.viewer, page_size(first, ctx.max_page_size), after, channel
        )
        return connection(page, Suppression.from_model)
