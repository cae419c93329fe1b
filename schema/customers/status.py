"""disableCustomer and enableCustomer (ADMIN): a thin call into core/services/customer_status.py."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tidings.schema.context import Info
from tidings.schema.customers.mutations import CustomerPayload
from tidings.schema.customers.types import Customer
from tidings.schema.errors import attempt
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.permissions import ADMIN_ONLY


@strawberry.type
class CustomerStatusMutations:
    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="Disable a customer's account (ADMIN): its tokens are refused at once "
        "(live sockets close with 4403), no new token is issued, and nothing is sent to it "
        "(CUSTOMER_DISABLED); its data stays. Disabling a disabled account changes nothing.",
    )
    async def disable_customer(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID, strawberry.argument(description="The customer to disable.")
        ],
        reason: Annotated[
            str | None,
            strawberry.argument(
                description="Why, for the audit log (at most 500 characters); no personal "
                "data in it."
            ),
        ] = None,
    ) -> CustomerPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.customer_status.disable(
                ctx.viewer, parse_id(customer_id, "Customer") or MISSING, reason
            )
        )
        return CustomerPayload(customer=Customer.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="Enable a disabled customer's account again (ADMIN): tokens issued from "
        "now on work and sends resume. Tokens revoked by disabling stay revoked.",
    )
    async def enable_customer(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID, strawberry.argument(description="The customer to enable.")
        ],
    ) -> CustomerPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.customer_status.enable(
                ctx.viewer, parse_id(customer_id, "Customer") or MISSING
            )
        )
        return CustomerPayload(customer=Customer.from_model(row) if row else None, errors=errors)
