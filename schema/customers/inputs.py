"""Inputs for customer, consent, preference and device mutations."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from tidings.core.services.consent import GrantRequest, PreferenceRequest
from tidings.core.services.customers import UNSET, CustomerFields
from tidings.schema.customers.types import FrequencyEnum, PlatformEnum, TierEnum


@strawberry.input
class CreateCustomerInput:
    external_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    locale: str | None = None
    timezone: str | None = None
    tier: TierEnum | None = None
    attributes: JSON | None = None

    def to_fields(self) -> CustomerFields:
        return CustomerFields(
            external_id=self.external_id,
            name=self.name,
            email=self.email,
            phone=self.phone,
            locale=self.locale,
            timezone=self.timezone,
            tier=self.tier,
            attributes=self.attributes,
        )


@strawberry.input(description="Fields left out stay as they are; null clears a nullable one.")
class UpdateCustomerInput:
    id: strawberry.ID
    external_id: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    tier: TierEnum | None = strawberry.UNSET
    attributes: JSON | None = strawberry.UNSET

    def to_fields(self) -> CustomerFields:
        def given(value: object) -> object:
            return UNSET if value is strawberry.UNSET else value

        return CustomerFields(
            external_id=given(self.external_id),
            name=given(self.name),
            email=given(self.email),
            phone=given(self.phone),
            locale=given(self.locale),
            timezone=given(self.timezone),
            tier=given(self.tier),
            attributes=given(self.attributes),
        )


@strawberry.input
class GrantPermissionInput:
    customer_id: strawberry.ID | None = None
    channel: str
    category: str
    source: str
    evidence: JSON | None = None
    expires_at: datetime | None = None

    def to_request(self) -> GrantRequest:
        return GrantRequest(
            channel=self.channel,
            category=self.category,
            source=self.source,
            evidence=self.evidence,
            expires_at=self.expires_at,
        )


@strawberry.input
class WithdrawPermissionInput:
    customer_id: strawberry.ID | None = None
    channel: str
    category: str
    source: str


@strawberry.input
class QuietHoursInput:
    start: str
    end: str


@strawberry.input
class SetPreferenceInput:
    customer_id: strawberry.ID | None = None
    category: str
    channels: list[str]
    frequency: FrequencyEnum
    quiet_hours: QuietHoursInput | None = None

    def to_request(self) -> PreferenceRequest:
        return PreferenceRequest(
            category=self.category,
            channels=self.channels,
            frequency=self.frequency,
            quiet_start=self.quiet_hours.start if self.quiet_hours else None,
            quiet_end=self.quiet_hours.end if self.quiet_hours else None,
        )


@strawberry.input(
    description="A token already registered moves to this customer (phones change hands)."
)
class RegisterDeviceInput:
    customer_id: strawberry.ID | None = None
    platform: PlatformEnum
    token: str
