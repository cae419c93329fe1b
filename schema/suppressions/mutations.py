"""liftSuppression: an admin lets a suppressed address be sent to again."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tidings.schema.context import Info
from tidings.schema.errors import attempt
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.permissions import ADMIN_ONLY
from tidings.schema.suppressions.types import (
    LiftSuppressionInput,
    Suppression,
    SuppressionPayload,
)


@strawberry.type
class SuppressionMutations:
    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="Lift a suppression (ADMIN), with a reason: the address is sent to again. "
        "The suppression is kept, marked lifted, and a later bounce suppresses the address "
        "anew.",
    )
    async def lift_suppression(
        self,
        info: Info,
        input: Annotated[LiftSuppressionInput, strawberry.argument(description="What and why.")],
    ) -> SuppressionPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.suppressions.lift(
                ctx.viewer, parse_id(input.id, "Suppression") or MISSING, input.reason
            )
        )
        return SuppressionPayload(
            suppression=Suppression.from_model(row) if row else None, errors=errors
        )
