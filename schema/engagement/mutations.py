"""recordEngagement: a customer's app reports an open or a click of its own delivery."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tidings.core.enums import EngagementKind
from tidings.plugins.feedback import FeedbackKind
from tidings.schema.context import Info
from tidings.schema.enums import EngagementKindEnum
from tidings.schema.errors import ERRORS, UserError, attempt
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.permissions import CustomersOnly


@strawberry.type(description="The result of recordEngagement.")
class EngagementPayload:
    recorded: bool = strawberry.field(
        description="True when this report was new; false when it was already recorded (an "
        "open is kept once per delivery, a click once per delivery) or `errors` says why not."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type
class EngagementMutations:
    @strawberry.mutation(
        permission_classes=[CustomersOnly],
        description="Report that you opened or clicked one of your deliveries (a push "
        "notification, say; its data carries `delivery_id`). Customer tokens only; a delivery "
        "that is not yours is NOT_FOUND, one never sent NOT_SENT, and with TIDINGS_TRACKING=off "
        "TRACKING_OFF.",
    )
    async def record_engagement(
        self,
        info: Info,
        delivery_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The delivery: its global ID or its raw id."),
        ],
        kind: Annotated[EngagementKindEnum, strawberry.argument(description="OPENED or CLICKED.")],
    ) -> EngagementPayload | None:
        ctx = info.context
        recorded, errors = await attempt(
            ctx.services.engagement.report(
                ctx.viewer,
                parse_id(delivery_id, "Delivery") or MISSING,
                FeedbackKind(EngagementKind(kind).value),
            )
        )
        return EngagementPayload(recorded=bool(recorded), errors=errors)
