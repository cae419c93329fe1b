"""A customer event, as recordEvent returns it."""

from __future__ import annotations

from datetime import datetime

import strawberry

from tidings.core.models import CustomerEvent as CustomerEventModel
from tidings.schema.errors import ERRORS, UserError
from tidings.schema.ids import to_global_id


@strawberry.type(
    description="Something a customer did that the company counts (a purchase, a signup), "
    "with the delivery it is attributed to."
)
class CustomerEvent:
    id: strawberry.ID = strawberry.field(description="The event's global ID.")
    customer_id: strawberry.ID = strawberry.field(description="The customer's global ID.")
    type: str = strawberry.field(description='What happened, e.g. "purchase" (lower case).')
    value: str | None = strawberry.field(
        description='The amount, as a decimal string with four places, e.g. "42.5000"; null '
        "when none was given."
    )
    currency: str | None = strawberry.field(description="The amount's ISO 4217 currency code.")
    occurred_at: datetime = strawberry.field(description="When it happened.")
    recorded_at: datetime = strawberry.field(description="When Tidings recorded it.")
    idempotency_key: str = strawberry.field(description="The key it was recorded with.")
    attributed_delivery_id: strawberry.ID | None = strawberry.field(
        description="The delivery it is attributed to: the customer's last clicked (else "
        "opened) delivery within TIDINGS_ATTRIBUTION_WINDOW before `occurredAt`; null when none."
    )
    attributed_message_id: strawberry.ID | None = strawberry.field(
        description="That delivery's message; null when none."
    )

    @classmethod
    def from_model(cls, row: CustomerEventModel) -> CustomerEvent:
        delivery, message = row.attributed_delivery_id, row.attributed_message_id
        return cls(
            id=to_global_id("CustomerEvent", row.id),
            customer_id=to_global_id("Customer", row.customer_id),  # type: ignore[attr-defined]
            type=row.type,
            value=None if row.value is None else str(row.value),
            currency=row.currency,
            occurred_at=row.occurred_at,
            recorded_at=row.recorded_at,
            idempotency_key=row.idempotency_key,
            attributed_delivery_id=to_global_id("Delivery", delivery) if delivery else None,
            attributed_message_id=to_global_id("Message", message) if message else None,
        )


@strawberry.type(description="The result of recordEvent.")
class CustomerEventPayload:
    event: CustomerEvent | None = strawberry.field(
        default=None,
        description="The event recorded (or the first one with this idempotency key); null "
        "when `errors` says why not.",
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)
