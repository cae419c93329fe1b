"""The calling customer's inbox and unread count."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tidings.schema.context import Info
from tidings.schema.inbox.types import Notification
from tidings.schema.permissions import CustomersOnly
from tidings.schema.relay import After, Connection, First, connection, page_size


@strawberry.type
class InboxQueries:
    @strawberry.field(
        permission_classes=[CustomersOnly],
        description="Your in-app notifications, newest first; archived ones are left out.",
    )
    async def inbox(
        self,
        info: Info,
        first: First = 20,
        after: After = None,
        unread_only: Annotated[
            bool | None, strawberry.argument(description="Only unread notifications.")
        ] = False,
    ) -> Connection[Notification] | None:
        ctx = info.context
        page = await ctx.services.inbox.list(
            ctx.viewer,
            page_size(first, ctx.max_page_size),
            after,
            unread_only=bool(unread_only),
        )
        return connection(page, Notification.from_row)

    @strawberry.field(
        permission_classes=[CustomersOnly],
        description="Your unread notifications, archived ones left out.",
    )
    async def unread_count(self, info: Info) -> int | None:
        return await info.context.services.inbox.unread_count(info.context.viewer)
