"""recordEvent: a thin call into the event service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from tidings.core.services.events import EventRequest
from tidings.schema.context import Info
from tidings.schema.errors import attempt
from tidings.schema.events.types import CustomerEvent, CustomerEventPayload
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.permissions import ADMIN_ONLY


@strawberry.input(
    description="A customer event: exactly one of `customerId` and `externalId` names the customer."
)
class RecordEventInput:
    idempotency_key: str = strawberry.field(
        description="The same key for the same customer returns the first event; with other "
        "content it is IDEMPOTENCY_CONFLICT."
    )
    type: str = strawberry.field(
        description='What happened: 1-64 letters, digits, "_", ".", ":" or "-", e.g. '
        '"purchase" (stored in lower case).'
    )
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The customer, by global ID."
    )
    external_id: str | None = strawberry.field(
        default=None, description="The customer, by the company's own id."
    )
    value: str | None = strawberry.field(
        default=None,
        description='An amount as a decimal string, e.g. "42.50": not negative, at most 14 '
        "digits before the point and 4 after. Given with `currency`, or not at all.",
    )
    currency: str | None = strawberry.field(
        default=None, description='The ISO 4217 code of `value`, e.g. "EUR".'
    )
    occurred_at: datetime | None = strawberry.field(
        default=None, description="When it happened (not in the future); null: now."
    )

    def to_request(self) -> EventRequest:
        customer_id = None
        if self.customer_id is not None:
            customer_id = parse_id(self.customer_id, "Customer") or MISSING
        return EventRequest(
            idempotency_key=self.idempotency_key,
            type=self.type,
            customer_id=customer_id,
            external_id=self.external_id,
            value=self.value,
            currency=self.currency,
            occurred_at=self.occurred_at,
        )


@strawberry.type
class EventMutations:
    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="Record a customer event, such as a purchase (ADMIN and ADMIN API keys). "
        "It is attributed to the customer's last clicked (else opened) delivery within "
        "TIDINGS_ATTRIBUTION_WINDOW, and sent to CONVERSION webhooks.",
    )
    async def record_event(
        self,
        info: Info,
        input: Annotated[RecordEventInput, strawberry.argument(description="The event.")],
    ) -> CustomerEventPayload | None:
        ctx = info.context
        row, errors = await attempt(ctx.services.events.record(ctx.viewer, input.to_request()))
        return CustomerEventPayload(
            event=CustomerEvent.from_model(row) if row else None, errors=errors
        )
