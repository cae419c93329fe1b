"""markRead, markAllRead and archive: the calling customer's own notifications."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Annotated

import strawberry

from tidings.core.services.inbox import InboxChange
from tidings.schema.context import Info
from tidings.schema.errors import attempt
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.inbox.types import TYPE_NAME, InboxPayload
from tidings.schema.permissions import CustomersOnly

Ids = Annotated[
    list[strawberry.ID],
    strawberry.argument(
        description="Your notifications: at most the page-size maximum (100 by default; more "
        "is TOO_MANY). If any is not yours the call is NOT_FOUND and nothing changes."
    ),
]


def _ids(ids: list[strawberry.ID]) -> list[uuid.UUID]:
    """Malformed ids and other types' ids become an id no row has: NOT_FOUND."""
    return [parse_id(value, TYPE_NAME) or MISSING for value in ids]


async def _payload(info: Info, work: Awaitable[InboxChange]) -> InboxPayload:
    change, errors = await attempt(work)
    if change is None:  # refused, nothing changed: the count as it stands
        count = await info.context.services.inbox.unread_count(info.context.viewer)
        return InboxPayload(unread_count=count, errors=errors)
    return InboxPayload(unread_count=change.unread_count, errors=errors)


@strawberry.type
class InboxMutations:
    @strawberry.mutation(
        permission_classes=[CustomersOnly],
        description="Mark your notifications read (all or none); read ones keep their time.",
    )
    async def mark_read(self, info: Info, ids: Ids) -> InboxPayload | None:
        ctx = info.context
        return await _payload(
            info, ctx.services.inbox.mark_read(ctx.viewer, _ids(ids), ctx.max_page_size)
        )

    @strawberry.mutation(
        permission_classes=[CustomersOnly], description="Mark every unread notification read."
    )
    async def mark_all_read(self, info: Info) -> InboxPayload | None:
        ctx = info.context
        return await _payload(info, ctx.services.inbox.mark_all_read(ctx.viewer))

    @strawberry.mutation(
        permission_classes=[CustomersOnly],
        description="Take your notifications out of the inbox (all or none).",
    )
    async def archive(self, info: Info, ids: Ids) -> InboxPayload | None:
        ctx = info.context
        return await _payload(
            info, ctx.services.inbox.archive(ctx.viewer, _ids(ids), ctx.max_page_size)
        )
