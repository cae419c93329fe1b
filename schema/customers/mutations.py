"""Customer, consent, preference and device mutations: each a thin call into a service."""

from __future__ import annotations

import strawberry

from tidings.core.tokens import TokenKind
from tidings.schema.context import Info
from tidings.schema.customers.inputs import (
    CreateCustomerInput,
    GrantPermissionInput,
    RegisterDeviceInput,
    SetPreferenceInput,
    UpdateCustomerInput,
    WithdrawPermissionInput,
)
from tidings.schema.customers.types import Customer, Device, PermissionGrant, Preference
from tidings.schema.errors import UserError, attempt
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.permissions import ADMIN_ONLY, Authenticated


@strawberry.type
class CustomerPayload:
    customer: Customer | None = None
    errors: list[UserError]


@strawberry.type
class TokenPayload:
    token: str | None = None
    errors: list[UserError]


@strawberry.type
class PermissionGrantPayload:
    grant: PermissionGrant | None = None
    errors: list[UserError]


@strawberry.type
class PreferencePayload:
    preference: Preference | None = None
    errors: list[UserError]


@strawberry.type
class DevicePayload:
    device: Device | None = None
    errors: list[UserError]


@strawberry.type
class CustomerMutations:
    @strawberry.mutation(permission_classes=[ADMIN_ONLY])
    async def create_customer(
        self, info: Info, input: CreateCustomerInput
    ) -> CustomerPayload | None:
        row, errors = await attempt(
            info.context.services.customers.create(info.context.viewer, input.to_fields())
        )
        return CustomerPayload(customer=Customer.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(permission_classes=[ADMIN_ONLY])
    async def update_customer(
        self, info: Info, input: UpdateCustomerInput
    ) -> CustomerPayload | None:
        customer_id = parse_id(input.id, "Customer") or MISSING
        row, errors = await attempt(
            info.context.services.customers.update(
                info.context.viewer, customer_id, input.to_fields()
            )
        )
        return CustomerPayload(customer=Customer.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="A token for the customer's own app (ADMIN and ADMIN API keys).",
    )
    async def issue_customer_token(
        self, info: Info, customer_id: strawberry.ID
    ) -> TokenPayload | None:
        ctx = info.context
        parsed = parse_id(customer_id, "Customer") or MISSING
        row, errors = await attempt(ctx.services.customers.require(ctx.viewer, parsed))
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
        self, info: Info, customer_id: strawberry.ID | None = None
    ) -> CustomerPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.customers.revoke_tokens(ctx.viewer, parse_id(customer_id, "Customer"))
        )
        return CustomerPayload(customer=Customer.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(permission_classes=[Authenticated])
    async def grant_permission(
        self, info: Info, input: GrantPermissionInput
    ) -> PermissionGrantPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.consent.grant(
                ctx.viewer, parse_id(input.customer_id, "Customer"), input.to_request()
            )
        )
        return PermissionGrantPayload(
            grant=PermissionGrant.from_entry(row) if row else None, errors=errors
        )

    @strawberry.mutation(permission_classes=[Authenticated])
    async def withdraw_permission(
        self, info: Info, input: WithdrawPermissionInput
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

    @strawberry.mutation(permission_classes=[Authenticated])
    async def set_preference(
        self, info: Info, input: SetPreferenceInput
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

    @strawberry.mutation(permission_classes=[Authenticated])
    async def register_device(self, info: Info, input: RegisterDeviceInput) -> DevicePayload | None:
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

    @strawberry.mutation(permission_classes=[Authenticated])
    async def remove_device(self, info: Info, id: strawberry.ID) -> DevicePayload | None:
        ctx = info.context
        device_id = parse_id(id, "Device") or MISSING
        row, errors = await attempt(ctx.services.customers.remove_device(ctx.viewer, device_id))
        return DevicePayload(device=Device.from_model(row) if row else None, errors=errors)
