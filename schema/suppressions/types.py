"""GraphQL types for suppressed addresses."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from tidings.core.models.suppressions import Suppression as SuppressionModel
from tidings.schema.enums import SuppressionReasonEnum
from tidings.schema.errors import ERRORS, UserError
from tidings.schema.ids import to_global_id

# How a Viewer.ref's kind is named as a GraphQL type.
REF_TYPES = {"staff": "Staff", "api_key": "ApiKey"}


def ref_global_id(ref: str | None) -> strawberry.ID | None:
    """The global ID of the staff member or API key a ref ("staff:<id>") names."""
    if not ref:
        return None
    kind, _, raw = ref.partition(":")
    type_name = REF_TYPES.get(kind)
    if type_name is None:
        return None
    try:
        return to_global_id(type_name, uuid.UUID(raw))
    except ValueError:
        return None


@strawberry.type(
    description="An address that is not sent to on a channel because it bounced: a delivery to "
    "it counts as having no address (NO_ADDRESS, its rule's detail \"suppressed: hard "
    'bounce" or "suppressed: soft bounces"), and the category\'s fallback channel applies. '
    "Only a keyed hash of the address is kept, never the address: it outlives an erased "
    "customer and stops a re-imported one. Any staff role may list them."
)
class Suppression:
    id: strawberry.ID = strawberry.field(
        description="The suppression's ID: stable and unique (not accepted by `node(id:)`)."
    )
    channel: str = strawberry.field(
        description='The channel: "email", "sms", or one a plugin adds.'
    )
    reason: SuppressionReasonEnum = strawberry.field(description="Why the address is suppressed.")
    provider: str | None = strawberry.field(
        description='The provider that reported the bounce (e.g. "http-sms").'
    )
    created_at: datetime = strawberry.field(description="When the address was suppressed.")
    delivery_id: strawberry.ID | None = strawberry.field(
        description="The global ID of the delivery whose bounce suppressed it; it no longer "
        "exists once its customer is erased."
    )
    lifted_at: datetime | None = strawberry.field(
        description="When an admin lifted it; null while it is in force."
    )
    lifted_by: strawberry.ID | None = strawberry.field(
        description="The global ID of the Staff member or ApiKey that lifted it; null while it "
        "is in force."
    )
    lift_reason: str | None = strawberry.field(
        description="Why it was lifted, as the admin wrote it; null while it is in force."
    )

    @classmethod
    def from_model(cls, row: SuppressionModel) -> Suppression:
        return cls(
            id=to_global_id("Suppression", row.id),
            channel=row.channel,
            reason=row.reason,
            provider=row.provider,
            created_at=row.created_at,
            delivery_id=to_global_id("Delivery", row.delivery_id) if row.delivery_id else None,
            lifted_at=row.lifted_at,
            lifted_by=ref_global_id(row.lifted_by),
            lift_reason=row.lift_reason,
        )


@strawberry.input(description="Which suppression to lift, and why.")
class LiftSuppressionInput:
    id: strawberry.ID = strawberry.field(description="The suppression's ID.")
    reason: str = strawberry.field(
        description="Why it is lifted (the customer fixed the mailbox, say): required, at most "
        "500 characters. Kept with the suppression; write no address in it."
    )


@strawberry.type(description="The result of liftSuppression.")
class SuppressionPayload:
    suppression: Suppression | None = strawberry.field(
        default=None,
        description="The suppression, lifted; null when `errors` says why not.",
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)
