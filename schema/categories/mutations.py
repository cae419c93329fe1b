"""Category mutations (ADMIN and MARKETER)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tidings.core.enums import Role
from tidings.core.services.categories import UNSET, CategoryFields
from tidings.schema.categories.types import Category
from tidings.schema.context import Info
from tidings.schema.enums import CategoryKindEnum
from tidings.schema.errors import ERRORS, UserError, attempt
from tidings.schema.permissions import staff_roles

MANAGERS = staff_roles(Role.ADMIN, Role.MARKETER)


@strawberry.type(description="The result of createCategory or updateCategory.")
class CategoryPayload:
    category: Category | None = strawberry.field(
        default=None, description="The category as it now is; null when `errors` says why not."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.input(description="A new category.")
class CreateCategoryInput:
    key: str = strawberry.field(description='A stable key, e.g. "promotions"; unique.')
    name: str = strawberry.field(description="A name for people.")
    kind: CategoryKindEnum = strawberry.field(description="Whether it needs permission; final.")
    default_channels: list[str] | None = strawberry.field(
        default=None, description="The channels used when a send and the customer name none."
    )
    respect_quiet_hours: bool | None = strawberry.field(
        default=None,
        description="Default: true for MARKETING, false for TRANSACTIONAL.",
    )
    required: bool | None = strawberry.field(
        default=None,
        description="Security alerts and the like (default false): skip opt-outs, caps, quiet "
        "hours and digests, never the permission rule.",
    )
    fallback_channel: str | None = strawberry.field(
        default=None, description="The channel tried when one has no address or fails for good."
    )
    description: str | None = strawberry.field(
        default=None, description="What the category covers."
    )
    confirm_email: bool | None = strawberry.field(
        default=None,
        description="Whether email grants must be confirmed by the customer (default false; "
        "see Category.confirmEmail).",
    )
    track_engagement: bool | None = strawberry.field(
        default=None,
        description="Whether its email tracks opens and clicks (default: true for MARKETING, "
        "false for TRANSACTIONAL; see Category.trackEngagement).",
    )


@strawberry.input(description="The key and the kind never change; fields left out stay.")
class UpdateCategoryInput:
    key: str = strawberry.field(description="The category to change.")
    name: str | None = strawberry.field(default=None, description="A new name.")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new description; null clears it."
    )
    default_channels: list[str] | None = strawberry.field(
        default=None, description="New default channels."
    )
    respect_quiet_hours: bool | None = strawberry.field(
        default=None, description="Whether its messages wait out quiet hours."
    )
    required: bool | None = strawberry.field(
        default=None, description="Whether it is required (see Category.required)."
    )
    fallback_channel: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new fallback channel; null clears it."
    )
    confirm_email: bool | None = strawberry.field(
        default=None,
        description="Whether email grants must be confirmed (see Category.confirmEmail); "
        "grants recorded before stay as they are.",
    )
    track_engagement: bool | None = strawberry.field(
        default=None,
        description="Whether its email tracks opens and clicks from now on (see "
        "Category.trackEngagement); mail already sent keeps its links.",
    )


def _given(value: object) -> object:
    return UNSET if value is strawberry.UNSET else value


@strawberry.type
class CategoryMutations:
    @strawberry.mutation(
        permission_classes=[MANAGERS], description="Create a category (ADMIN and MARKETER)."
    )
    async def create_category(
        self,
        info: Info,
        input: Annotated[CreateCategoryInput, strawberry.argument(description="The new category.")],
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
            confirm_email=input.confirm_email,
            track_engagement=input.track_engagement,
        )
        row, errors = await attempt(
            info.context.services.categories.create(info.context.viewer, fields)
        )
        return CategoryPayload(category=Category.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[MANAGERS], description="Change a category (ADMIN and MARKETER)."
    )
    async def update_category(
        self,
        info: Info,
        input: Annotated[
            UpdateCategoryInput, strawberry.argument(description="The category and its changes.")
        ],
    ) -> CategoryPayload | None:
        fields = CategoryFields(
            name=input.name,
            description=_given(input.description),
            default_channels=input.default_channels,
            respect_quiet_hours=input.respect_quiet_hours,
            required=input.required,
            fallback_channel=_given(input.fallback_channel),
            confirm_email=input.confirm_email,
            track_engagement=input.track_engagement,
        )
        row, errors = await attempt(
            info.context.services.categories.update(info.context.viewer, input.key, fields)
        )
        return CategoryPayload(category=Category.from_model(row) if row else None, errors=errors)
