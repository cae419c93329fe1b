"""GraphQL types for customers, their consent and preferences, and devices."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.permission import PermissionExtension
from strawberry.scalars import JSON

from tidings.core.enums import Frequency, GrantStatus, Platform, Tier
from tidings.core.models import Customer as CustomerModel
from tidings.core.models import Device as DeviceModel
from tidings.core.models import PermissionEntry
from tidings.core.models import Preference as PreferenceModel
from tidings.core.services.consent import PreferenceRow, StateRow, effective_status
from tidings.schema.context import Info
from tidings.schema.ids import to_global_id
from tidings.schema.node import Node
from tidings.schema.permissions import CanReadCustomerPII
from tidings.schema.relay import Connection, connection, page_size

TierEnum = strawberry.enum(Tier, name="Tier")
GrantStatusEnum = strawberry.enum(GrantStatus, name="GrantStatus")
FrequencyEnum = strawberry.enum(Frequency, name="Frequency")
PlatformEnum = strawberry.enum(Platform, name="Platform")


def mask_email(address: str | None) -> str | None:
    """ "jane@example.com" → "j***@example.com": enough to recognise, not to contact."""
    if not address or "@" not in address:
        return None
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


@strawberry.type
class PermissionGrant(Node):
    id: strawberry.ID
    channel: str
    category: str
    status: GrantStatusEnum
    source: str
    granted_at: datetime | None
    withdrawn_at: datetime | None
    expires_at: datetime | None
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


@strawberry.type
class QuietHours:
    start: str
    end: str


@strawberry.type
class Preference:
    category: str
    channels: list[str]
    frequency: FrequencyEnum
    quiet_hours: QuietHours | None

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


@strawberry.type(description="A push target. The token itself is never returned.")
class Device(Node):
    id: strawberry.ID
    platform: PlatformEnum
    created_at: datetime
    last_seen_at: datetime | None

    @classmethod
    def from_model(cls, row: DeviceModel) -> Device:
        return cls(
            id=to_global_id("Device", row.id),
            platform=row.platform,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
        )


@strawberry.type
class Customer(Node):
    id: strawberry.ID
    external_id: str
    name: str | None
    locale: str
    timezone: str
    tier: TierEnum
    attributes: JSON
    created_at: datetime
    email_masked: str | None = strawberry.field(
        description='Recognisable, not usable: "j***@example.com".'
    )
    customer_uuid: strawberry.Private[uuid.UUID]
    email_value: strawberry.Private[str | None]
    phone_value: strawberry.Private[str | None]

    @strawberry.field(permission_classes=[CanReadCustomerPII])
    def email(self) -> str | None:
        return self.email_value

    @strawberry.field(permission_classes=[CanReadCustomerPII])
    def phone(self) -> str | None:
        return self.phone_value

    @strawberry.field(description="The current state: one per channel × category ever recorded.")
    async def permission_grants(self, info: Info) -> list[PermissionGrant]:
        now = datetime.now(UTC)
        rows = await info.context.loaders.grants.load(self.customer_uuid)
        return [PermissionGrant.from_state(row, now) for row in rows]

    @strawberry.field(description="The consent ledger, newest first.")
    async def permission_history(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[PermissionGrant]:
        page = await info.context.services.consent.history(
            self.customer_uuid, page_size(first, info.context.max_page_size, 50), after
        )
        now = datetime.now(UTC)
        return connection(page, lambda row: PermissionGrant.from_entry(row, now))

    @strawberry.field
    async def preferences(self, info: Info) -> list[Preference]:
        rows = await info.context.loaders.preferences.load(self.customer_uuid)
        return [Preference.from_model(row) for row in rows]

    # Non-null in the contract, so a refusal cannot be null + FORBIDDEN (the null would wipe
    # out the parent, or the whole response): callers who may not read PII get [] instead.
    @strawberry.field(
        extensions=[
            PermissionExtension([CanReadCustomerPII()], use_directives=False, fail_silently=True)
        ]
    )
    async def devices(self, info: Info) -> list[Device]:
        rows = await info.context.loaders.devices.load(self.customer_uuid)
        return [Device.from_model(row) for row in rows]

    @classmethod
    def from_model(cls, row: CustomerModel) -> Customer:
        return cls(
            id=to_global_id("Customer", row.id),
            external_id=row.external_id,
            name=row.name,
            locale=row.locale,
            timezone=row.timezone,
            tier=row.tier,
            attributes=row.attributes,
            created_at=row.created_at,
            customer_uuid=row.id,
            email_masked=mask_email(row.email),
            email_value=row.email,
            phone_value=row.phone,
        )


CustomerRef = Annotated["Customer", strawberry.lazy("tidings.schema.customers.types")]
