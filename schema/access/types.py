"""GraphQL types for staff, API keys and access grants."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from tidings.core.enums import AccessAction, Role
from tidings.core.models import AccessGrant as AccessGrantModel
from tidings.core.models import ApiKey as ApiKeyModel
from tidings.core.models import Staff as StaffModel
from tidings.schema.context import Info
from tidings.schema.ids import to_global_id
from tidings.schema.node import Node
from tidings.schema.permissions import CanReadStaffEmail

if TYPE_CHECKING:
    from tidings.schema.customers.types import Customer

RoleEnum = strawberry.enum(Role, name="Role")
AccessActionEnum = strawberry.enum(AccessAction, name="AccessAction")
CustomerType = Annotated["Customer", strawberry.lazy("tidings.schema.customers.types")]


@strawberry.type
class Staff(Node):
    id: strawberry.ID
    role: RoleEnum
    active: bool
    created_at: datetime
    last_login_at: datetime | None
    staff_uuid: strawberry.Private[uuid.UUID]
    email_value: strawberry.Private[str]

    @strawberry.field(permission_classes=[CanReadStaffEmail])
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


@strawberry.type(description="A key for the company's back end; its secret is shown once.")
class ApiKey(Node):
    id: strawberry.ID
    name: str
    role: RoleEnum
    prefix: str = strawberry.field(description="The secret's first characters, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def from_model(cls, row: ApiKeyModel) -> ApiKey:
        return cls(
            id=to_global_id("ApiKey", row.id),
            name=row.name,
            role=row.role,
            prefix=row.prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
        )


@strawberry.type(description="A staff member's access to one customer.")
class AccessGrant(Node):
    id: strawberry.ID
    actions: list[AccessActionEnum]
    expires_at: datetime | None
    created_at: datetime
    staff_uuid: strawberry.Private[uuid.UUID]
    customer_uuid: strawberry.Private[uuid.UUID]

    @strawberry.field
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
