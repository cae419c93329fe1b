"""Login, staff, API keys and access grants."""

from __future__ import annotations

from datetime import datetime

import strawberry

from tidings.core.tokens import TokenKind
from tidings.schema.access.types import AccessActionEnum, AccessGrant, ApiKey, RoleEnum, Staff
from tidings.schema.context import Info
from tidings.schema.errors import UserError, attempt, user_error
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.permissions import ADMIN_ONLY, ANY_STAFF, Authenticated


@strawberry.type
class LoginPayload:
    token: str | None = None
    errors: list[UserError]


@strawberry.type
class StaffPayload:
    staff: Staff | None = None
    errors: list[UserError]


@strawberry.type
class ApiKeyPayload:
    api_key: ApiKey | None = None
    secret: str | None = strawberry.field(
        default=None, description="The key itself: shown this once, never again."
    )
    errors: list[UserError]


@strawberry.type
class AccessGrantPayload:
    access_grant: AccessGrant | None = None
    errors: list[UserError]


@strawberry.type
class LogoutPayload:
    ok: bool
    errors: list[UserError]


@strawberry.input
class CreateStaffInput:
    email: str
    password: str
    role: RoleEnum


@strawberry.input(description="Fields left out stay as they are. Any change revokes its tokens.")
class UpdateStaffInput:
    id: strawberry.ID
    role: RoleEnum | None = None
    active: bool | None = None
    password: str | None = None


@strawberry.input
class GrantAccessInput:
    staff_id: strawberry.ID
    customer_id: strawberry.ID
    actions: list[AccessActionEnum]
    expires_at: datetime | None = None


@strawberry.input
class CreateApiKeyInput:
    name: str
    role: RoleEnum


@strawberry.type
class AccessMutations:
    @strawberry.mutation(description="A staff token for these credentials.")
    async def login(self, info: Info, email: str, password: str) -> LoginPayload | None:
        ctx = info.context
        staff = await ctx.services.staff.authenticate(email, password)
        if staff is None:
            return LoginPayload(
                errors=[user_error("INVALID_CREDENTIALS", "Wrong email or password.")]
            )
        return LoginPayload(
            token=ctx.signer.issue(TokenKind.STAFF, staff.id, staff.token_version), errors=[]
        )

    @strawberry.mutation(
        permission_classes=[ANY_STAFF], description="Revoke every token of the calling member."
    )
    async def logout(self, info: Info) -> LogoutPayload | None:
        ctx = info.context
        staff = await ctx.services.staff.get(ctx.viewer.id)
        if staff is None:
            return LogoutPayload(
                ok=False, errors=[user_error("NOT_STAFF", "API keys cannot log out.")]
            )
        await ctx.services.staff.logout(staff)
        return LogoutPayload(ok=True, errors=[])

    @strawberry.mutation(permission_classes=[ADMIN_ONLY])
    async def create_staff(self, info: Info, input: CreateStaffInput) -> StaffPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.staff.create_as(ctx.viewer, input.email, input.password, input.role)
        )
        return StaffPayload(staff=Staff.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[Authenticated],
        description="ADMIN changes anyone; a member may change its own password.",
    )
    async def update_staff(self, info: Info, input: UpdateStaffInput) -> StaffPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.staff.update(
                ctx.viewer,
                parse_id(input.id, "Staff") or MISSING,
                role=input.role,
                active=input.active,
                password=input.password,
            )
        )
        return StaffPayload(staff=Staff.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(permission_classes=[ADMIN_ONLY])
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> ApiKeyPayload | None:
        ctx = info.context
        result, errors = await attempt(
            ctx.services.api_keys.create(ctx.viewer, input.name, input.role)
        )
        if result is None:
            return ApiKeyPayload(errors=errors)
        key, secret = result
        return ApiKeyPayload(api_key=ApiKey.from_model(key), secret=secret, errors=[])

    @strawberry.mutation(permission_classes=[ADMIN_ONLY])
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> ApiKeyPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.api_keys.revoke(ctx.viewer, parse_id(id, "ApiKey") or MISSING)
        )
        return ApiKeyPayload(api_key=ApiKey.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(permission_classes=[ADMIN_ONLY])
    async def grant_access(self, info: Info, input: GrantAccessInput) -> AccessGrantPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.access.grant(
                ctx.viewer,
                parse_id(input.staff_id, "Staff") or MISSING,
                parse_id(input.customer_id, "Customer") or MISSING,
                input.actions,
                input.expires_at,
            )
        )
        return AccessGrantPayload(
            access_grant=AccessGrant.from_model(row) if row else None, errors=errors
        )

    @strawberry.mutation(permission_classes=[ADMIN_ONLY])
    async def revoke_access_grant(self, info: Info, id: strawberry.ID) -> AccessGrantPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.access.revoke(ctx.viewer, parse_id(id, "AccessGrant") or MISSING)
        )
        return AccessGrantPayload(
            access_grant=AccessGrant.from_model(row) if row else None, errors=errors
        )
