"""Who am I; staff, API keys and access grants."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tidings.core.enums import Role
from tidings.core.viewer import ViewerKind
from tidings.schema.access.types import AccessGrant, ApiKey, Staff
from tidings.schema.context import Info
from tidings.schema.customers.types import Customer
from tidings.schema.ids import parse_id
from tidings.schema.permissions import Authenticated, staff_roles
from tidings.schema.relay import After, Connection, First, connection, page_size

Viewer = Annotated[
    Staff | Customer | ApiKey,
    strawberry.union(
        "Viewer", description="Who is calling: a staff member, a customer, or an API key."
    ),
]
ADMIN_OR_AUDITOR = staff_roles(Role.ADMIN, Role.AUDITOR)
# MARKETER holds no access grants and may see nobody's: refused by the gate, before the
# service is asked.
GRANT_READERS = staff_roles(Role.ADMIN, Role.AGENT, Role.AUDITOR)


@strawberry.type
class AccessQueries:
    @strawberry.field(
        permission_classes=[Authenticated],
        description="The caller: its Staff account, its Customer, or its ApiKey.",
    )
    async def me(self, info: Info) -> Viewer | None:
        ctx = info.context
        viewer = ctx.viewer
        if viewer.kind is ViewerKind.STAFF:
            staff = await ctx.services.staff.get(viewer.id)
            assert staff is not None
            return Staff.from_model(staff)
        if viewer.kind is ViewerKind.CUSTOMER:
            customer = await ctx.services.customers.require(viewer, viewer.id)
            return Customer.from_model(customer)
        key = await ctx.services.api_keys.get(viewer.id)
        assert key is not None
        return ApiKey.from_model(key)

    @strawberry.field(
        permission_classes=[ADMIN_OR_AUDITOR],
        name="staff",
        description="A staff member (ADMIN and AUDITOR), or null when there is none.",
    )
    async def staff_member(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The member's global ID.")],
    ) -> Staff | None:
        staff_id = parse_id(id, "Staff")
        row = await info.context.services.staff.get_visible(info.context.viewer, staff_id)
        return Staff.from_model(row) if row else None

    @strawberry.field(
        permission_classes=[ADMIN_OR_AUDITOR],
        description="Every staff member, oldest first (ADMIN and AUDITOR).",
    )
    async def staff_members(
        self, info: Info, first: First = 20, after: After = None
    ) -> Connection[Staff] | None:
        ctx = info.context
        page = await ctx.services.staff.list(ctx.viewer, page_size(first, ctx.max_page_size), after)
        return connection(page, Staff.from_model)

    @strawberry.field(
        permission_classes=[ADMIN_OR_AUDITOR],
        description="Unrevoked API keys, oldest first (ADMIN and AUDITOR); never their secrets.",
    )
    async def api_keys(
        self, info: Info, first: First = 20, after: After = None
    ) -> Connection[ApiKey] | None:
        ctx = info.context
        page = await ctx.services.api_keys.list(
            ctx.viewer, page_size(first, ctx.max_page_size), after
        )
        return connection(page, ApiKey.from_model)

    @strawberry.field(
        permission_classes=[GRANT_READERS],
        description="Active access grants: all for ADMIN and AUDITOR, an agent's own for AGENT.",
    )
    async def access_grants(
        self,
        info: Info,
        first: First = 20,
        after: After = None,
        staff_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this member's grants.")
        ] = None,
        customer_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only grants to this customer.")
        ] = None,
    ) -> Connection[AccessGrant] | None:
        ctx = info.context
        page = await ctx.services.access.list(
            ctx.viewer,
            page_size(first, ctx.max_page_size),
            after,
            staff_id=parse_id(staff_id, "Staff"),
            customer_id=parse_id(customer_id, "Customer"),
        )
        return connection(page, AccessGrant.from_model)
