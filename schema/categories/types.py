"""GraphQL types for categories and channels."""

from __future__ import annotations

import strawberry

from tidings.core.models import Category as CategoryModel
from tidings.schema.enums import CategoryKindEnum


@strawberry.type(
    description='What a message is about ("promotions", "security"): permissions, '
    "preferences and templates are kept per category. Any caller may read them."
)
class Category:
    key: str = strawberry.field(
        description="The category's stable key, as `send`, grants and preferences name it."
    )
    name: str = strawberry.field(description="A name for people.")
    description: str | None = strawberry.field(description="What the category covers, if set.")
    kind: CategoryKindEnum = strawberry.field(
        description="TRANSACTIONAL needs no permission and is never digested; MARKETING needs "
        "a grant. It never changes."
    )
    default_channels: list[str] = strawberry.field(
        description="The channels a send uses when neither the send nor the customer's "
        "preference names any."
    )
    respect_quiet_hours: bool = strawberry.field(
        description="Whether its messages wait out the customer's quiet hours (default: true "
        "for MARKETING, false for TRANSACTIONAL)."
    )
    required: bool = strawberry.field(
        description="Security alerts and the like (default false): skip opt-outs, caps, quiet "
        "hours and digests, never the permission rule."
    )
    fallback_channel: str | None = strawberry.field(
        description="The channel tried when one has no address or fails permanently; null: none."
    )
    confirm_email: bool = strawberry.field(
        description="Confirmed opt-in: an email grant for this category starts PENDING, and a "
        "confirmation mail asks the customer to confirm it (TIDINGS_EMAIL_CONFIRMATION="
        "required does so for every category)."
    )
    track_engagement: bool = strawberry.field(
        description="Whether its email carries an open pixel and tracked links, recording "
        "opens and clicks (default: true for MARKETING, false for TRANSACTIONAL; "
        "TIDINGS_TRACKING=off turns tracking off for every category)."
    )

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
            confirm_email=row.confirm_email,
            track_engagement=row.track_engagement,
        )


@strawberry.type(description="A channel and the providers that serve it, in failover order.")
class Channel:
    name: str = strawberry.field(description='The channel, e.g. "email" or "in_app".')
    providers: list[str] = strawberry.field(
        description="Names of the providers serving it, in the order they are tried."
    )
