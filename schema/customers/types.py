"""GraphQL types for customers, their consent and preferences, and devices."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from tidings.core.audit.read import encode_entry_cursor
from tidings.core.models import Customer as CustomerModel
from tidings.core.models import Device as DeviceModel
from tidings.core.models import PermissionEntry
from tidings.core.models import Preference as PreferenceModel
from tidings.core.pagination import PageKey
from tidings.core.services.consent import PreferenceRow, StateRow, effective_status
from tidings.schema.audit.types import AccessLogEntry
from tidings.schema.context import Info
from tidings.schema.enums import FrequencyEnum, GrantStatusEnum, PlatformEnum, TierEnum
from tidings.schema.ids import to_global_id
from tidings.schema.node import Node
from tidings.schema.permissions import CanReadAccessLog, CanReadCustomerPII
from tidings.schema.relay import AFTER, FIRST, Connection, connection, page_size


def mask_email(address: str | None) -> str | None:
    """ "jane@example.com" → "j***@example.com": enough to recognise, not to contact."""
    if not address or "@" not in address:
        return None
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


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


@strawberry.type(
    description="Someone the company messages. ADMIN, MARKETER and AUDITOR see every customer; "
    "an AGENT those it holds an unexpired access grant for; a customer token only itself. One "
    "the caller may not see is null, exactly like one that does not exist. Email, phone, devices "
    "and consent evidence are personal data: the customer, ADMIN, or an AGENT with READ."
)
class Customer(Node):
    external_id: str = strawberry.field(
        description="The company's own id for the customer; unique."
    )
    name: str | None = strawberry.field(description="The customer's name, if known.")
    locale: str = strawberry.field(
        description='BCP 47, e.g. "zh-CN" (default "en"): which template is used.'
    )
    timezone: str = strawberry.field(
        description='IANA, e.g. "Asia/Shanghai" (default "UTC"): where quiet hours and digests '
        "are reckoned."
    )
    tier: TierEnum = strawberry.field(description="Its value tier (default ORDINARY).")
    attributes: JSON = strawberry.field(
        description="Free-form data the company keeps with the customer; a channel a plugin "
        'adds reads its address from the attribute named after it (e.g. `"chat"`).'
    )
    created_at: datetime = strawberry.field(description="When the customer was created.")
    email_masked: str | None = strawberry.field(
        description='Recognisable, not usable: "j***@example.com". Anyone who may see the '
        "customer; null when it has no email."
    )
    disabled_at: datetime | None = strawberry.field(
        default=None,
        description="When an ADMIN disabled the account (`disableCustomer`); null while it is "
        "enabled.",
    )
    customer_uuid: strawberry.Private[uuid.UUID]
    email_value: strawberry.Private[str | None]
    phone_value: strawberry.Private[str | None]
    token_version: strawberry.Private[int]
    erasure_requested_at: datetime | None = strawberry.field(
        default=None,
        description="When the customer asked to be erased (requestErasure): it is carried out "
        "TIDINGS_ERASURE_GRACE_DAYS later. Null when it has not asked.",
    )

    @strawberry.field(
        description="True while the account is disabled: its tokens are refused and nothing "
        "is sent to it (deliveries SUPPRESSED with CUSTOMER_DISABLED); its data stays."
    )
    def disabled(self) -> bool:
        return self.disabled_at is not None

    @strawberry.field(
        description="Personal data: the customer, ADMIN, or an AGENT with a READ grant; null "
        "with FORBIDDEN for other callers. Null too when the customer has none.",
        permission_classes=[CanReadCustomerPII],
    )
    def email(self) -> str | None:
        return self.email_value

    @strawberry.field(
        description='E.164, e.g. "+14155550100". Personal data, as `email`.',
        permission_classes=[CanReadCustomerPII],
    )
    def phone(self) -> str | None:
        return self.phone_value

    @strawberry.field(
        description="A fresh link to the customer's hosted preference page (under "
        "TIDINGS_PUBLIC_URL; it expires after TIDINGS_PREFERENCE_LINK_TTL and dies with "
        "revokeCustomerTokens). It opens the page as the customer: personal data, as `email`.",
        permission_classes=[CanReadCustomerPII],
    )
    def preference_link(self, info: Info) -> str | None:
        return info.context.services.links.preferences_url(self.customer_uuid, self.token_version)

    @strawberry.field(description="The current state: one per channel × category ever recorded.")
    async def permission_grants(self, info: Info) -> list[PermissionGrant]:
        now = datetime.now(UTC)
        rows = await info.context.loaders.grants.load(self.customer_uuid)
        return [PermissionGrant.from_state(row, now) for row in rows]

    @strawberry.field(
        description="The consent ledger, newest first: every grant, withdrawal and refusal."
    )
    async def permission_history(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 50,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[PermissionGrant]:
        size = page_size(first, info.context.max_page_size, 50)
        page = await info.context.loaders.permission_history.load(
            PageKey(self.customer_uuid, size, after)
        )
        now = datetime.now(UTC)
        return connection(page, lambda row: PermissionGrant.from_entry(row, now))

    @strawberry.field(description="One per category the customer has set a preference for.")
    async def preferences(self, info: Info) -> list[Preference]:
        rows = await info.context.loaders.preferences.load(self.customer_uuid)
        return [Preference.from_model(row) for row in rows]

    @strawberry.field(
        permission_classes=[CanReadCustomerPII],
        description="Push targets: personal data, so null with FORBIDDEN for callers who may "
        "not read it, like `email` (an empty list means no devices).",
    )
    async def devices(self, info: Info) -> list[Device] | None:
        rows = await info.context.loaders.devices.load(self.customer_uuid)
        return [Device.from_model(row) for row in rows]

    @strawberry.field(
        permission_classes=[CanReadAccessLog],
        description="Who read this customer's personal data, newest first: one entry per "
        "request (who, when, which fields, through which operation). ADMIN and the customer "
        "itself; null with FORBIDDEN for other callers.",
    )
    async def access_log(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[AccessLogEntry] | None:
        size = page_size(first, info.context.max_page_size)
        page = await info.context.loaders.access_logs.load(PageKey(self.customer_uuid, size, after))
        return connection(page, AccessLogEntry.from_model, encode_entry_cursor)

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
            token_version=row.token_version,
            disabled_at=row.disabled_at,
            erasure_requested_at=row.erasure_requested_at,
        )
