"""Categories and channels."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tidings.schema.categories.types import Category, Channel
from tidings.schema.context import Info
from tidings.schema.permissions import Authenticated


@strawberry.type
class CategoryQueries:
    @strawberry.field(
        permission_classes=[Authenticated], description="Every category, by key (any caller)."
    )
    async def categories(self, info: Info) -> list[Category] | None:
        return [Category.from_model(row) for row in await info.context.services.categories.list()]

    @strawberry.field(
        permission_classes=[Authenticated],
        description="A category by its key, or null when there is none (any caller).",
    )
    async def category(
        self,
        info: Info,
        key: Annotated[str, strawberry.argument(description="The category's key.")],
    ) -> Category | None:
        row = await info.context.services.categories.get(key)
        return Category.from_model(row) if row else None

    @strawberry.field(
        permission_classes=[Authenticated], description="Registered channels and their providers."
    )
    def channels(self, info: Info) -> list[Channel] | None:
        return [
            Channel(name=name, providers=list(providers))
            for name, providers in sorted(info.context.channels.items())
        ]
