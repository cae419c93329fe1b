"""Inputs for customer, consent, preference and device mutations."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from tidings.core.services.consent import GrantRequest, PreferenceRequest
from tidings.core.services.customers import UNSET, CustomerFields
from tidings.schema.enums import FrequencyEnum, PlatformEnum, TierEnum

# Shared by the inputs that may name a customer.
CUSTOMER_ID = "The customer. Staff must give it; a customer token may leave it out, meaning itself."
CHANNEL = 'The channel: "email", "sms", "push", "in_app", or one a plugin adds.'
CATEGORY = "The category's key."


@strawberry.input(description="A new customer. Only `externalId` is required.")
class CreateCustomerInput:
    external_id: str = strawberry.field(
        description="The company's own id for the customer; unique (else the UserError "
        "DUPLICATE_EXTERNAL_ID)."
    )
    name: str | None = strawberry.field(default=None, description="The customer's name.")
    email: str | None = strawberry.field(default=None, description="An email address.")
    phone: str | None = strawberry.field(
        default=None, description='An E.164 phone number, e.g. "+14155550100".'
    )
    locale: str | None = strawberry.field(
        default=None, description='A BCP 47 locale, e.g. "zh-CN"; default "en".'
    )
    timezone: str | None = strawberry.field(
        default=None, description='An IANA timezone, e.g. "Asia/Shanghai"; default "UTC".'
    )
    tier: TierEnum | None = strawberry.field(default=None, description="Default ORDINARY.")
    attributes: JSON | None = strawberry.field(
        default=None, description="Free-form data kept with the customer (a JSON object)."
    )

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
    id: strawberry.ID = strawberry.field(description="The customer to change.")
    external_id: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new external id, unique; it cannot be null."
    )
    name: str | None = strawberry.field(default=strawberry.UNSET, description="The name.")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="The email.")
    phone: str | None = strawberry.field(
        default=strawberry.UNSET, description="The E.164 phone number."
    )
    locale: str | None = strawberry.field(
        default=strawberry.UNSET, description="The BCP 47 locale; null leaves it as it is."
    )
    timezone: str | None = strawberry.field(
        default=strawberry.UNSET, description="The IANA timezone; null leaves it as it is."
    )
    tier: TierEnum | None = strawberry.field(
        default=strawberry.UNSET, description="The tier; null leaves it as it is."
    )
    attributes: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the attributes whole; null empties them."
    )

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


@strawberry.input(
    description="A customer's own profile changes (a customer token). Fields left out stay as "
    "they are; a null name clears it, a null locale or timezone leaves it."
)
class UpdateMeInput:
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description="Your name; null clears it."
    )
    locale: str | None = strawberry.field(
        default=None, description='A BCP 47 locale, e.g. "zh-CN": the language of your messages.'
    )
    timezone: str | None = strawberry.field(
        default=None,
        description='An IANA timezone, e.g. "Asia/Shanghai": where quiet hours are reckoned.',
    )

    def to_fields(self) -> CustomerFields:
        return CustomerFields(
            name=UNSET if self.name is strawberry.UNSET else self.name,
            locale=self.locale,
            timezone=self.timezone,
        )


@strawberry.input(
    description="A customer's permission to message it on a channel about a category, recorded "
    "in the ledger with its evidence."
)
class GrantPermissionInput:
    customer_id: strawberry.ID | None = strawberry.field(default=None, description=CUSTOMER_ID)
    channel: str = strawberry.field(description=CHANNEL)
    category: str = strawberry.field(description=CATEGORY)
    source: str = strawberry.field(
        description='How it was given: "signup_form", "preference_center", "api", "import", ...'
    )
    evidence: JSON | None = strawberry.field(
        default=None,
        description='What was shown and how, kept with the grant, e.g. {"ip": ..., '
        '"userAgent": ..., "notice": "v3"}. Personal data.',
    )
    expires_at: datetime | None = strawberry.field(
        default=None,
        description="When the grant lapses; null: never. A time in the past records a grant "
        "that is already EXPIRED.",
    )

    def to_request(self) -> GrantRequest:
        return GrantRequest(
            channel=self.channel,
            category=self.category,
            source=self.source,
            evidence=self.evidence,
            expires_at=self.expires_at,
        )


@strawberry.input(
    description="Take a permission back. Where none was granted the refusal is recorded too "
    "(status WITHDRAWN): a refusal is evidence as well."
)
class WithdrawPermissionInput:
    customer_id: strawberry.ID | None = strawberry.field(default=None, description=CUSTOMER_ID)
    channel: str = strawberry.field(description=CHANNEL)
    category: str = strawberry.field(description=CATEGORY)
    source: str = strawberry.field(
        description='How it was taken back: "unsubscribe_link", "preference_center", ...'
    )


@strawberry.input(description="A daily window, in the customer's timezone.")
class QuietHoursInput:
    start: str = strawberry.field(description='"HH:MM" on a 24-hour clock, e.g. "22:00".')
    end: str = strawberry.field(
        description='"HH:MM"; earlier than `start` spans midnight, e.g. "08:00".'
    )


@strawberry.input(
    description="How a customer wants one category's messages; replaces its earlier preference "
    "for the category."
)
class SetPreferenceInput:
    customer_id: strawberry.ID | None = strawberry.field(default=None, description=CUSTOMER_ID)
    category: str = strawberry.field(description=CATEGORY)
    channels: list[str] = strawberry.field(
        description="The channels it wants the category on; the others become OPTED_OUT."
    )
    frequency: FrequencyEnum = strawberry.field(description="Each message, or a digest.")
    quiet_hours: QuietHoursInput | None = strawberry.field(
        default=None, description="Quiet hours for the category; null: none."
    )

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
    customer_id: strawberry.ID | None = strawberry.field(default=None, description=CUSTOMER_ID)
    platform: PlatformEnum = strawberry.field(description="The device's platform.")
    token: str = strawberry.field(
        description="The FCM registration token (or Firebase installation id); never returned."
    )
