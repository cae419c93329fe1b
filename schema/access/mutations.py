"""Login, staff, API keys and access grants."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from tidings.core.errors import TooManyAttemptsError
from tidings.core.tokens import TokenKind
from tidings.schema.access.types import AccessGrant, ApiKey, Staff
from tidings.schema.context import Info, client_ip
from tidings.schema.enums import AccessActionEnum, RoleEnum
from tidings.schema.errors import ERRORS, UserError, attempt, user_error
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.permissions import ADMIN_ONLY, ANY_STAFF, Authenticated


@strawberry.type(description="The result of login.")
class LoginPayload:
    token: str | None = strawberry.field(
        default=None,
        description="A staff bearer token, valid for `TIDINGS_STAFF_TOKEN_TTL` (12 hours by "
        "default) or until logout; null with INVALID_CREDENTIALS or TOO_MANY_ATTEMPTS.",
    )
    retry_after: int | None = strawberry.field(
        default=None,
        description="With TOO_MANY_ATTEMPTS: the seconds to wait before the next attempt is "
        "checked at all; null otherwise.",
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The result of createStaff or updateStaff.")
class StaffPayload:
    staff: Staff | None = strawberry.field(
        default=None, description="The member as it now is; null when `errors` says why not."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The result of createApiKey or revokeApiKey.")
class ApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(
        default=None, description="The key; null when `errors` says why not."
    )
    secret: str | None = strawberry.field(
        default=None,
        description="The key itself, to send as the bearer token: shown this once, at "
        "creation, never again.",
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The result of grantAccess or revokeAccessGrant.")
class AccessGrantPayload:
    access_grant: AccessGrant | None = strawberry.field(
        default=None, description="The grant; null when `errors` says why not."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The result of logout.")
class LogoutPayload:
    ok: bool = strawberry.field(description="True when the member's tokens were revoked.")
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.input(description="A new staff account.")
class CreateStaffInput:
    email: str = strawberry.field(description="The login email; unique.")
    password: str = strawberry.field(
        description="At least 12 characters, and not a common password."
    )
    role: RoleEnum = strawberry.field(description="What the member may see and do.")


@strawberry.input(description="Fields left out stay as they are. Any change revokes its tokens.")
class UpdateStaffInput:
    id: strawberry.ID = strawberry.field(description="The member to change.")
    role: RoleEnum | None = strawberry.field(default=None, description="A new role (ADMIN).")
    active: bool | None = strawberry.field(
        default=None, description="False deactivates the member (ADMIN)."
    )
    password: str | None = strawberry.field(
        default=None, description="A new password: at least 12 characters, not a common one."
    )


@strawberry.input(description="An agent's access to one customer.")
class GrantAccessInput:
    staff_id: strawberry.ID = strawberry.field(description="The staff member given access.")
    customer_id: strawberry.ID = strawberry.field(description="The customer.")
    actions: list[AccessActionEnum] = strawberry.field(
        description="What it may do; at least one. READ includes personal data."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When the access ends (in the future); null: until revoked."
    )


@strawberry.input(description="A new API key for the company's back end.")
class CreateApiKeyInput:
    name: str = strawberry.field(description="A name to tell keys apart.")
    role: RoleEnum = strawberry.field(description="The role the key acts with.")
    scopes: list[str] | None = strawberry.field(
        default=None,
        description="What the key may call, narrower than its role: send, customers:read, "
        "customers:write, consent:write, events:write, messages:read, stats:read, "
        "categories:write, webhooks:write, admin (docs/account-security.md lists which "
        "operations each covers). Null: the role's full power. An unknown scope is the "
        "UserError UNKNOWN_SCOPE; an empty list NO_SCOPES.",
    )
    expires_at: datetime | None = strawberry.field(
        default=None,
        description="When the key stops working (in the future; INVALID_TIME otherwise); "
        "null: until revoked.",
    )


@strawberry.type
class AccessMutations:
    @strawberry.mutation(
        description="A staff token for these credentials; needs no token. Repeated failures "
        "for one account or from one address are throttled (TOO_MANY_ATTEMPTS, `retryAfter`)."
    )
    async def login(
        self,
        info: Info,
        email: Annotated[str, strawberry.argument(description="The member's login email.")],
        password: Annotated[str, strawberry.argument(description="Its password.")],
    ) -> LoginPayload | None:
        ctx = info.context
        try:
            staff = await ctx.services.staff.sign_in(email, password, client_ip(ctx.request))
        except TooManyAttemptsError as error:
            return LoginPayload(retry_after=error.retry_after, errors=[UserError.from_error(error)])
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

    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY], description="Create a staff account (ADMIN)."
    )
    async def create_staff(
        self,
        info: Info,
        input: Annotated[CreateStaffInput, strawberry.argument(description="The new account.")],
    ) -> StaffPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.staff.create_as(ctx.viewer, input.email, input.password, input.role)
        )
        return StaffPayload(staff=Staff.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[Authenticated],
        description="ADMIN changes anyone; a member may change its own password.",
    )
    async def update_staff(
        self,
        info: Info,
        input: Annotated[
            UpdateStaffInput, strawberry.argument(description="The member and its changes.")
        ],
    ) -> StaffPayload | None:
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

    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="Create an API key (ADMIN); its secret is in the payload, this once.",
    )
    async def create_api_key(
        self,
        info: Info,
        input: Annotated[CreateApiKeyInput, strawberry.argument(description="The new key.")],
    ) -> ApiKeyPayload | None:
        ctx = info.context
        result, errors = await attempt(
            ctx.services.api_keys.create(
                ctx.viewer, input.name, input.role, input.scopes, input.expires_at
            )
        )
        if result is None:
            return ApiKeyPayload(errors=errors)
        key, secret = result
        return ApiKeyPayload(api_key=ApiKey.from_model(key), secret=secret, errors=[])

    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="Revoke an API key (ADMIN): it stops working at once.",
    )
    async def revoke_api_key(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The key to revoke.")],
    ) -> ApiKeyPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.api_keys.revoke(ctx.viewer, parse_id(id, "ApiKey") or MISSING)
        )
        return ApiKeyPayload(api_key=ApiKey.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="Give a staff member access to one customer (ADMIN).",
    )
    async def grant_access(
        self,
        info: Info,
        input: Annotated[GrantAccessInput, strawberry.argument(description="The access given.")],
    ) -> AccessGrantPayload | None:
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

    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="End an access grant (ADMIN); the agent loses the customer at once.",
    )
    async def revoke_access_grant(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The grant to end.")],
    ) -> AccessGrantPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.access.revoke(ctx.viewer, parse_id(id, "AccessGrant") or MISSING)
        )
        return AccessGrantPayload(
            access_grant=AccessGrant.from_model(row) if row else None, errors=errors
        )
