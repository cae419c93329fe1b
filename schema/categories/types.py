"""GraphQL types for categories and channels."""

from __future__ import annotations

import strawberry

from tidings.core.enums import CategoryKind
from tidings.core.models import Category as CategoryModel

CategoryKindEnum = strawberry.enum(CategoryKind, name="CategoryKind")


@strawberry.type
class Category:
    key: str
    name: str
    description: str | None
    kind: CategoryKindEnum
    default_channels: list[str]
    respect_quiet_hours: bool
    required: bool
    fallback_channel: str | None

    @classmethod
    def from_model(cls, row: CategoryModel) -> Category:
        return cls(
            key=row.key,
            name=row.name,
            description=row.description,
            kind=row.kind,
            default_channels=list(row.default_channels),
            respect_quiet_hours=row.respect_quiet_hours,
            required=row.required,
            fallback_channel=row.fallback_channel,
        )


@strawberry.type(description="A channel and the providers that serve it, in failover order.")
class Channel:
    name: str
    providers: list[str]
