"""Customer, consent, preference and device mutations: each a thin call into a service."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tidings.core.enums import GrantStatus
from tidings.core.tokens import TokenKind
from tidings.schema.context import Info
from tidings.schema.customers.consent_types import Device, PermissionGrant, Preference
from tidings.schema.customers.inputs import (
    CUSTOMER_ID,
    CreateCustomerInput,
    GrantPermissionInput,
    RegisterDeviceInput,
    SetPreferenceInput,
    UpdateCustomerInput,
    UpdateMeInput,
    WithdrawPermissionInput,
)
from tidings.schema.customers.types import Customer
from tidings.schema.errors import ERRORS, UserError, attempt
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.permissions import ADMIN_ONLY, Authenticated, CustomersOnly


@strawberry.type(description="The result of a change to a customer.")
class CustomerPayload:
    customer: Customer | None = strawberry.field(
        default=None, description="The customer as it now is; null when `errors` says why not."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The result of issueCustomerToken.")
class TokenPayload:
    token: str | None = strawberry.field(
        default=None,
        description="A bearer token for the customer's own app, valid for "
        "`TIDINGS_CUSTOMER_TOKEN_TTL` (30 days by default) or until revoked.",
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The result of grantPermission or withdrawPermission.")
class PermissionGrantPayload:
    grant: PermissionGrant | None = strawberry.field(
        default=None, description="The ledger entry recorded; null when `errors` says why not."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The result of setPreference.")
class PreferencePayload:
    preference: Preference | None = strawberry.field(
        default=None, description="The preference as set; null when `errors` says why not."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The result of registerDevice or removeDevice.")
class DevicePayload:
    device: Device | None = strawberry.field(
        default=None,
        description="The device registered, or the one removed; null when `errors` says why not.",
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type
class CustomerMutations:
    @strawberry.mutation(permission_classes=[ADMIN_ONLY], description="Create a customer (ADMIN).")
    async def create_customer(
        self,
        info: Info,
        input: Annotated[CreateCustomerInput, strawberry.argument(description="The new customer.")],
    ) -> CustomerPayload | None:
        row, errors = await attempt(
            info.context.services.customers.create(info.context.viewer, input.to_fields())
        )
        return CustomerPayload(customer=Customer.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="Change a customer's profile (ADMIN); the fields left out stay as they are.",
    )
    async def update_customer(
        self,
        info: Info,
        input: Annotated[
            UpdateCustomerInput, strawberry.argument(description="The customer and its changes.")
        ],
    ) -> CustomerPayload | None:
        customer_id = parse_id(input.id, "Customer") or MISSING
        row, errors = await attempt(
            info.context.services.customers.update(
                info.context.viewer, customer_id, input.to_fields()
            )
        )
        return CustomerPayload(customer=Customer.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[CustomersOnly],
        description="Change your own name, locale and timezone (customer tokens only); the "
        "fields left out stay as they are.",
    )
    async def update_me(
        self,
        info: Info,
        input: Annotated[UpdateMeInput, strawberry.argument(description="Your changes.")],
    ) -> CustomerPayload | None:
        row, errors = await attempt(
            info.context.services.customers.update_me(info.context.viewer, input.to_fields())
        )
        return CustomerPayload(customer=Customer.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="A token for the customer's own app (ADMIN and ADMIN API keys).",
    )
    async def issue_customer_token(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID, strawberry.argument(description="The customer the token is for.")
        ],
    ) -> TokenPayload | None:
        ctx = info.context
        parsed = parse_id(customer_id, "Customer") or MISSING
        row, errors = await attempt(ctx.services.customer_status.token_subject(ctx.viewer, parsed))
        if row is None:
            return TokenPayload(errors=errors)
        return TokenPayload(
            token=ctx.signer.issue(TokenKind.CUSTOMER, row.id, row.token_version), errors=[]
        )

    @strawberry.mutation(
        permission_classes=[Authenticated],
        description="Revoke every token issued to the customer so far (ADMIN, or the customer).",
    )
    async def revoke_customer_tokens(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID | None, strawberry.argument(description=CUSTOMER_ID)
        ] = None,
    ) -> CustomerPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.customers.revoke_tokens(ctx.viewer, parse_id(customer_id, "Customer"))
        )
        return CustomerPayload(customer=Customer.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[Authenticated],
        description="Record a customer's permission for a channel and category, with its "
        "evidence: ADMIN, or the customer itself. An email grant that needs confirming "
        "(Category.confirmEmail, or TIDINGS_EMAIL_CONFIRMATION=required) is recorded PENDING "
        "and a confirmation mail is sent, unless the channel is GRANTED already.",
    )
    async def grant_permission(
        self,
        info: Info,
        input: Annotated[
            GrantPermissionInput, strawberry.argument(description="The permission and evidence.")
        ],
    ) -> PermissionGrantPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.consent.grant(
                ctx.viewer, parse_id(input.customer_id, "Customer"), input.to_request()
            )
        )
        if row is not None and row.status is GrantStatus.PENDING:
            ctx.wake_worker()  # a confirmation mail was queued
        return PermissionGrantPayload(
            grant=PermissionGrant.from_entry(row) if row else None, errors=errors
        )

    @strawberry.mutation(
        permission_classes=[Authenticated],
        description="Record that a customer takes a permission back (or refuses it): ADMIN, or "
        "the customer itself.",
    )
    async def withdraw_permission(
        self,
        info: Info,
        input: Annotated[
            WithdrawPermissionInput, strawberry.argument(description="The permission withdrawn.")
        ],
    ) -> PermissionGrantPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.consent.withdraw(
                ctx.viewer,
                parse_id(input.customer_id, "Customer"),
                input.channel,
                input.category,
                input.source,
            )
        )
        return PermissionGrantPayload(
            grant=PermissionGrant.from_entry(row) if row else None, errors=errors
        )

    @strawberry.mutation(
        permission_classes=[Authenticated],
        description="Set how a customer wants one category's messages: ADMIN, or the customer "
        "itself.",
    )
    async def set_preference(
        self,
        info: Info,
        input: Annotated[
            SetPreferenceInput, strawberry.argument(description="The customer's preference.")
        ],
    ) -> PreferencePayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.consent.set_preference(
                ctx.viewer, parse_id(input.customer_id, "Customer"), input.to_request()
            )
        )
        return PreferencePayload(
            preference=Preference.from_model(row) if row else None, errors=errors
        )

    @strawberry.mutation(
        permission_classes=[Authenticated],
        description="Register a push device for a customer: ADMIN, or the customer itself.",
    )
    async def register_device(
        self,
        info: Info,
        input: Annotated[
            RegisterDeviceInput, strawberry.argument(description="The device and its token.")
        ],
    ) -> DevicePayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.customers.register_device(
                ctx.viewer,
                parse_id(input.customer_id, "Customer"),
                input.platform,
                input.token,
            )
        )
        return DevicePayload(device=Device.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[Authenticated],
        description="Remove a push device: ADMIN, or its customer.",
    )
    async def remove_device(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The device to remove.")],
    ) -> DevicePayload | None:
        ctx = info.context
        device_id = parse_id(id, "Device") or MISSING
        row, errors = await attempt(ctx.services.customers.remove_device(ctx.viewer, device_id))
        return DevicePayload(device=Device.from_model(row) if row else None, errors=errors)
