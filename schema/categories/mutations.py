"""Category mutations (ADMIN and MARKETER)."""

from __future__ import annotations

import strawberry

from tidings.core.enums import Role
from tidings.core.services.categories import UNSET, CategoryFields
from tidings.schema.categories.types import Category, CategoryKindEnum
from tidings.schema.context import Info
from tidings.schema.errors import UserError, attempt
from tidings.schema.permissions import staff_roles

MANAGERS = staff_roles(Role.ADMIN, Role.MARKETER)


@strawberry.type
class CategoryPayload:
    category: Category | None = None
    errors: list[UserError]


@strawberry.input
class CreateCategoryInput:
    key: str
    name: str
    kind: CategoryKindEnum
    default_channels: list[str] | None = None
    respect_quiet_hours: bool | None = None
    required: bool | None = None
    fallback_channel: str | None = None
    description: str | None = None


@strawberry.input(description="The key and the kind never change; fields left out stay.")
class UpdateCategoryInput:
    key: str
    name: str | None = None
    description: str | None = strawberry.UNSET
    default_channels: list[str] | None = None
    respect_quiet_hours: bool | None = None
    required: bool | None = None
    fallback_channel: str | None = strawberry.UNSET


def _given(value: object) -> object:
    return UNSET if value is strawberry.UNSET else value


@strawberry.type
class CategoryMutations:
    @strawberry.mutation(permission_classes=[MANAGERS])
    async def create_category(
        self, info: Info, input: CreateCategoryInput
    ) -> CategoryPayload | None:
        fields = CategoryFields(
            key=input.key,
            name=input.name,
            kind=input.kind,
            description=input.description,
            default_channels=input.default_channels,
            respect_quiet_hours=input.respect_quiet_hours,
            required=input.required,
            fallback_channel=input.fallback_channel,
        )
        row, errors = await attempt(
            info.context.services.categories.create(info.context.viewer, fields)
        )
        return CategoryPayload(category=Category.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(permission_classes=[MANAGERS])
    async def update_category(
        self, info: Info, input: UpdateCategoryInput
    ) -> CategoryPayload | None:
        fields = CategoryFields(
            name=input.name,
            description=_given(input.description),
            default_channels=input.default_channels,
            respect_quiet_hours=input.respect_quiet_hours,
            required=input.required,
            fallback_channel=_given(input.fallback_channel),
        )
        row, errors = await attempt(
            info.context.services.categories.update(info.context.viewer, input.key, fields)
        )
        return CategoryPayload(category=Category.from_model(row) if row else None, errors=errors)
