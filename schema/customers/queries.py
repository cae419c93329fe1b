"""Customer queries."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tidings.schema.context import Info
from tidings.schema.customers.types import Customer
from tidings.schema.enums import TierEnum
from tidings.schema.ids import from_global_id
from tidings.schema.lookahead import selected_below, settle
from tidings.schema.permissions import Authenticated
from tidings.schema.relay import After, Connection, First, connection, page_size


@strawberry.type
class CustomerQueries:
    @strawberry.field(
        permission_classes=[Authenticated],
        description="A customer, or null when it does not exist or you may not see it.",
    )
    async def customer(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The customer's global ID.")],
    ) -> Customer | None:
        customer_id = from_global_id(id, "Customer")
        if customer_id is None:
            return None
        row = await info.context.services.customers.get(info.context.viewer, customer_id)
        return Customer.from_model(row) if row else None

    @strawberry.field(
        permission_classes=[Authenticated],
        description="Customers you may see, oldest first. `search` matches externalId (any "
        "part) and name (the whole name or one whole word of it, any case), and email or phone "
        "(the whole, normalised "
        "value: they are encrypted) only where you may read them.",
    )
    async def customers(
        self,
        info: Info,
        first: First = 20,
        after: After = None,
        tier: Annotated[
            TierEnum | None, strawberry.argument(description="Only customers of this tier.")
        ] = None,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="A part of an externalId, a name or one word of it, an email or a "
                "phone number (any case)."
            ),
        ] = None,
    ) -> Connection[Customer] | None:
        page = await info.context.services.customers.list(
            info.context.viewer,
            page_size(first, info.context.max_page_size),
            after,
            tier=tier,
            search=search,
        )
        # The page's grants and preferences in one query each, before the nodes resolve:
        # each node then reads them without an await (schema/lookahead.py).
        wanted = selected_below(info, ("edges", "node"))
        ids = [row.id for row in page.items]
        loaders = info.context.loaders
        ahead = []
        if ids and "permissionGrants" in wanted:
            ahead.append(loaders.grants.load_many(ids))
        if ids and "preferences" in wanted:
            ahead.append(loaders.preferences.load_many(ids))
        if ahead:
            await settle(*ahead)
        return connection(page, Customer.from_model)
