"""GraphQL types for what a customer has said: permission grants, preferences and quiet
hours; and its devices."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import strawberry
from strawberry.scalars import JSON

from tidings.core.models import Device as DeviceModel
from tidings.core.models import PermissionEntry
from tidings.core.models import Preference as PreferenceModel
from tidings.core.services.consent import PreferenceRow, StateRow, effective_status
from tidings.schema.context import Info
from tidings.schema.enums import FrequencyEnum, GrantStatusEnum, PlatformEnum
from tidings.schema.ids import to_global_id
from tidings.schema.node import Node
from tidings.schema.permissions import CanReadCustomerPII


@strawberry.type(
    description="A customer's permission for one channel and category: a ledger entry, or the "
    "current state it set. Seen by whoever may see the customer; its evidence is personal data."
)
class PermissionGrant(Node):
    channel: str = strawberry.field(
        description='The channel: "email", "sms", "push", "in_app", or one a plugin adds.'
    )
    category: str = strawberry.field(description="The category's key.")
    status: GrantStatusEnum = strawberry.field(
        description="GRANTED, WITHDRAWN, or EXPIRED once `expiresAt` has passed."
    )
    source: str = strawberry.field(
        description='How it was given or refused: "signup_form", "preference_center", "api", '
        '"import", ...'
    )
    granted_at: datetime | None = strawberry.field(
        description="When it was granted; null for a refusal."
    )
    withdrawn_at: datetime | None = strawberry.field(
        description="When it was withdrawn or refused; null while granted."
    )
    expires_at: datetime | None = strawberry.field(
        description="When a grant lapses (status EXPIRED after it); null: it does not."
    )
    customer_uuid: strawberry.Private[uuid.UUID]
    entry_uuid: strawberry.Private[uuid.UUID]
    entry: strawberry.Private[PermissionEntry | None]

    async def _entry(self, info: Info) -> PermissionEntry | None:
        if self.entry is None:
            self.entry = await info.context.loaders.entries.load(self.entry_uuid)
        return self.entry

    @strawberry.field(
        description="What was shown and how (IP, user agent, notice version). Personal data.",
        permission_classes=[CanReadCustomerPII],
    )
    async def evidence(self, info: Info) -> JSON | None:
        entry = await self._entry(info)
        return entry.evidence if entry else None

    @strawberry.field(
        description='Who recorded it: "staff:<id>", "api_key:<id>" or "customer:<id>".',
        permission_classes=[CanReadCustomerPII],
    )
    async def recorded_by(self, info: Info) -> str | None:
        entry = await self._entry(info)
        return entry.recorded_by if entry else None

    @classmethod
    def from_state(cls, row: StateRow, now: datetime) -> PermissionGrant:
        return cls(
            id=to_global_id("PermissionGrant", row.entry_id),
            channel=row.channel,
            category=row.category,
            status=effective_status(row.status, row.expires_at, now),
            source=row.source,
            granted_at=row.granted_at,
            withdrawn_at=row.withdrawn_at,
            expires_at=row.expires_at,
            customer_uuid=row.customer_id,
            entry_uuid=row.entry_id,
            entry=None,
        )

    @classmethod
    def from_entry(cls, row: PermissionEntry, now: datetime | None = None) -> PermissionGrant:
        return cls(
            id=to_global_id("PermissionGrant", row.id),
            channel=row.channel,
            category=row.category,
            status=effective_status(row.status, row.expires_at, now or datetime.now(UTC)),
            source=row.source,
            granted_at=row.granted_at,
            withdrawn_at=row.withdrawn_at,
            expires_at=row.expires_at,
            customer_uuid=row.customer_id,
            entry_uuid=row.id,
            entry=row,
        )


@strawberry.type(
    description="A daily window in the customer's timezone when a category's messages wait "
    "(DEFERRED, reason QUIET_HOURS) until it ends."
)
class QuietHours:
    start: str = strawberry.field(description='When it begins, "HH:MM" (24 h), e.g. "22:00".')
    end: str = strawberry.field(
        description='When it ends, "HH:MM"; earlier than `start` spans midnight, e.g. "08:00".'
    )


@strawberry.type(
    description="How a customer wants one category's messages. Where it has none, the "
    "category's default channels and its tier's policy apply."
)
class Preference:
    category: str = strawberry.field(description="The category's key.")
    channels: list[str] = strawberry.field(
        description="The channels it wants the category on; others are OPTED_OUT."
    )
    frequency: FrequencyEnum = strawberry.field(description="Each message, or a digest.")
    quiet_hours: QuietHours | None = strawberry.field(
        description="Its quiet hours for the category; null: none."
    )

    @classmethod
    def from_model(cls, row: PreferenceModel | PreferenceRow) -> Preference:
        quiet = (
            QuietHours(start=row.quiet_start, end=row.quiet_end)
            if row.quiet_start and row.quiet_end
            else None
        )
        return cls(
            category=row.category,
            channels=list(row.channels),
            frequency=row.frequency,
            quiet_hours=quiet,
        )


@strawberry.type(
    description="A push target: an FCM registration token (or Firebase installation id). The "
    "token itself is never returned. Personal data: the customer, ADMIN, or an AGENT with READ."
)
class Device(Node):
    platform: PlatformEnum = strawberry.field(description="The device's platform.")
    created_at: datetime = strawberry.field(description="When it was first registered.")
    last_seen_at: datetime | None = strawberry.field(
        description="When it was last registered: registering a known token again updates it."
    )

    @classmethod
    def from_model(cls, row: DeviceModel) -> Device:
        return cls(
            id=to_global_id("Device", row.id),
            platform=row.platform,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
        )
