"""GraphQL types for staff, API keys and access grants."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from tidings.core.enums import AccessAction
from tidings.core.models import AccessGrant as AccessGrantModel
from tidings.core.models import ApiKey as ApiKeyModel
from tidings.core.models import Staff as StaffModel
from tidings.schema.context import Info
from tidings.schema.enums import AccessActionEnum, RoleEnum
from tidings.schema.ids import to_global_id
from tidings.schema.node import Node
from tidings.schema.permissions import CanReadStaffEmail

if TYPE_CHECKING:
    from tidings.schema.customers.types import Customer

CustomerType = Annotated["Customer", strawberry.lazy("tidings.schema.customers.types")]


@strawberry.type(
    description="A staff member's account. ADMIN and AUDITOR see every member; others only "
    "themselves (and, for an agent, itself on its access grants)."
)
class Staff(Node):
    role: RoleEnum = strawberry.field(description="What the member may see and do.")
    active: bool = strawberry.field(
        description="False once deactivated: it can no longer log in, and its tokens stop working."
    )
    created_at: datetime = strawberry.field(description="When the account was created.")
    last_login_at: datetime | None = strawberry.field(
        description="When it last logged in; null if it never has."
    )
    staff_uuid: strawberry.Private[uuid.UUID]
    email_value: strawberry.Private[str]

    @strawberry.field(
        description="The login email: ADMIN, or the member itself; null with FORBIDDEN for "
        "other callers.",
        permission_classes=[CanReadStaffEmail],
    )
    def email(self) -> str | None:
        return self.email_value

    @classmethod
    def from_model(cls, row: StaffModel) -> Staff:
        return cls(
            id=to_global_id("Staff", row.id),
            role=row.role,
            active=row.active,
            created_at=row.created_at,
            last_login_at=row.last_login_at,
            staff_uuid=row.id,
            email_value=row.email,
        )


@strawberry.type(
    description="A key for the company's back end, acting with its role; its secret is shown "
    "once, at creation. ADMIN and AUDITOR see unrevoked keys; a key sees itself."
)
class ApiKey(Node):
    name: str = strawberry.field(description='A name to tell keys apart, e.g. "checkout".')
    role: RoleEnum = strawberry.field(description="The role the key acts with.")
    prefix: str = strawberry.field(description="The secret's first characters, to recognise it.")
    created_at: datetime = strawberry.field(description="When the key was created.")
    last_used_at: datetime | None = strawberry.field(
        description="When it last authenticated a request (updated at most once a minute); null "
        "if never."
    )
    scopes: list[str] | None = strawberry.field(
        default=None,
        description="What it may call, narrower than its role (see CreateApiKeyInput.scopes); "
        "null: its role's full power.",
    )
    expires_at: datetime | None = strawberry.field(
        default=None,
        description="When it stops authenticating; null: until revoked. An expired key is "
        "refused (UNAUTHENTICATED); `apiKeys` lists it until it is revoked.",
    )

    @classmethod
    def from_model(cls, row: ApiKeyModel) -> ApiKey:
        return cls(
            id=to_global_id("ApiKey", row.id),
            name=row.name,
            role=row.role,
            prefix=row.prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            scopes=list(row.scopes) if row.scopes is not None else None,
            expires_at=row.expires_at,
        )


@strawberry.type(
    description="A staff member's (an agent's) access to one customer. ADMIN and AUDITOR see "
    "every active grant; an agent its own."
)
class AccessGrant(Node):
    actions: list[AccessActionEnum] = strawberry.field(
        description="What the agent may do for the customer; READ includes its personal data."
    )
    expires_at: datetime | None = strawberry.field(
        description="When the access ends; null: until revoked."
    )
    created_at: datetime = strawberry.field(description="When it was granted.")
    staff_uuid: strawberry.Private[uuid.UUID]
    customer_uuid: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The staff member holding the access.")
    async def staff(self, info: Info) -> Staff:
        row = await info.context.loaders.staff.load(self.staff_uuid)
        assert row is not None  # the grant cascades away with its staff member
        return Staff.from_model(row)

    @strawberry.field(description="The customer, under your usual visibility.")
    async def customer(self, info: Info) -> CustomerType | None:
        from tidings.schema.customers.types import Customer

        row = await info.context.loaders.customers.load(self.customer_uuid)
        return Customer.from_model(row) if row else None

    @classmethod
    def from_model(cls, row: AccessGrantModel) -> AccessGrant:
        return cls(
            id=to_global_id("AccessGrant", row.id),
            actions=[AccessAction(a) for a in row.actions],
            expires_at=row.expires_at,
            created_at=row.created_at,
            staff_uuid=row.staff_id,
            customer_uuid=row.customer_id,
        )
