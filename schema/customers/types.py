"""GraphQL types for customers, their consent and preferences, and devices."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from tidings.core.audit.read import encode_entry_cursor
from tidings.core.models import Customer as CustomerModel
from tidings.core.pagination import PageKey
from tidings.core.services.consent import PreferenceRow, StateRow
from tidings.schema.audit.types import AccessLogEntry
from tidings.schema.context import Info
from tidings.schema.customers.consent_types import Device, PermissionGrant, Preference
from tidings.schema.enums import TierEnum
from tidings.schema.ids import to_global_id
from tidings.schema.lookahead import loaded
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

    @strawberry.field(
        description="The current state: one per channel × category ever recorded.",
        graphql_type=list[PermissionGrant],
    )
    def permission_grants(
        self, info: Info
    ) -> list[PermissionGrant] | Awaitable[list[PermissionGrant]]:
        # Synchronous when `customers` loaded the page's grants ahead (schema/lookahead.py).
        pending = info.context.loaders.grants.load(self.customer_uuid)
        ready, rows = loaded(pending)
        if not ready:
            return self._grants_later(pending)
        now = datetime.now(UTC)
        return [PermissionGrant.from_state(row, now) for row in rows or ()]

    @staticmethod
    async def _grants_later(pending: Awaitable[list[StateRow]]) -> list[PermissionGrant]:
        rows = await pending
        now = datetime.now(UTC)
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

    @strawberry.field(
        description="One per category the customer has set a preference for.",
        graphql_type=list[Preference],
    )
    def preferences(self, info: Info) -> list[Preference] | Awaitable[list[Preference]]:
        # Synchronous when `customers` loaded the page's preferences ahead, as grants.
        pending = info.context.loaders.preferences.load(self.customer_uuid)
        ready, rows = loaded(pending)
        if not ready:
            return self._preferences_later(pending)
        return [Preference.from_model(row) for row in rows or ()]

    @staticmethod
    async def _preferences_later(pending: Awaitable[list[PreferenceRow]]) -> list[Preference]:
        return [Preference.from_model(row) for row in await pending]

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
