"""GraphQL types for what the policy engine said about a delivery and what was heard back:
rule outcomes, explanations and delivery events."""

from __future__ import annotations

from datetime import datetime

import strawberry

from tidings.core.models.messages import DeliveryEvent as DeliveryEventModel
from tidings.core.policy import Decision
from tidings.core.policy import RuleOutcome as PolicyRuleOutcome
from tidings.plugins.feedback import FeedbackKind
from tidings.schema.enums import (
    DeliveryReasonEnum,
    DeliveryStatusEnum,
    FeedbackKindEnum,
    RuleVerdictEnum,
    delivery_reason,
    rule_verdict,
)
from tidings.schema.ids import to_global_id
from tidings.schema.permissions import CanReadDeliveryErrors


@strawberry.type(description="What one policy rule said about a delivery, in the order rules run.")
class RuleOutcome:
    rule: str = strawberry.field(
        description="The rule, named as the reason it gives when it stops a delivery: "
        "NO_PERMISSION, OPTED_OUT, NO_ADDRESS, FREQUENCY_CAP, QUIET_HOURS or DIGEST, in "
        "that order; explainDelivery adds NO_PROVIDER when no provider serves the channel."
    )
    verdict: RuleVerdictEnum = strawberry.field(description="What the rule said.")
    detail: str | None = strawberry.field(
        description='Why, in words for people ("permission GRANTED", "required", ...); '
        "not meant to be parsed."
    )
    channel: str | None = strawberry.field(
        description="The channel the rule spoke about: the one asked for, or the category's "
        "fallback channel when the first was stopped for want of an address. Null on rules "
        "recorded before wave 2."
    )

    @classmethod
    def from_rule(cls, outcome: PolicyRuleOutcome) -> RuleOutcome:
        return cls(
            rule=outcome.rule.value,
            verdict=rule_verdict(outcome.verdict),
            detail=outcome.detail,
            channel=outcome.channel,
        )


@strawberry.type(description="A decision, and every rule that spoke; nothing was sent.")
class DeliveryExplanation:
    status: DeliveryStatusEnum = strawberry.field(
        description="What a send now would give: SUPPRESSED, DEFERRED or QUEUED, or FAILED "
        "(reason NO_PROVIDER) when the policy lets it through but no provider serves the "
        "channel."
    )
    reason: DeliveryReasonEnum | None = strawberry.field(
        description="The rule that stopped or deferred it; null when QUEUED."
    )
    channel: str = strawberry.field(
        description="The channel decided: the one asked for, or the category's fallback channel "
        "when the first had no address."
    )
    not_before: datetime | None = strawberry.field(
        description="For DEFERRED: when it would be sent (the end of quiet hours, or the next "
        "digest); null otherwise."
    )
    rules: list[RuleOutcome] = strawberry.field(
        description="Every rule that spoke, in order, up to the one that stopped it."
    )

    @classmethod
    def from_decision(cls, decision: Decision) -> DeliveryExplanation:
        return cls(
            status=decision.status,
            reason=delivery_reason(decision.reason),
            channel=decision.channel,
            not_before=decision.not_before,
            rules=[RuleOutcome.from_rule(r) for r in decision.rules],
        )


@strawberry.type(
    description="One piece of feedback a provider reported about a delivery: a receipt, a "
    "bounce, a complaint, an open, a click or a reply."
)
class DeliveryEvent:
    id: strawberry.ID = strawberry.field(
        description="The event's ID: stable and unique (not accepted by `node(id:)`)."
    )
    kind: FeedbackKindEnum = strawberry.field(description="What was heard.")
    at: datetime = strawberry.field(
        description="When it happened, as the provider reported it (else when it was recorded)."
    )
    permanent: bool = strawberry.field(
        description="For BOUNCED: a hard (permanent) bounce; false for a soft one and for "
        "every other kind."
    )
    detail_value: strawberry.Private[str | None]

    @strawberry.field(
        description="What the provider said (an error code, a bounce's diagnostic: it may "
        "quote an address); null when it said nothing. ADMIN only: null with FORBIDDEN for "
        "other callers.",
        permission_classes=[CanReadDeliveryErrors],
    )
    def detail(self) -> str | None:
        return self.detail_value

    @classmethod
    def from_model(cls, row: DeliveryEventModel) -> DeliveryEvent:
        return cls(
            id=to_global_id("DeliveryEvent", row.id),
            kind=FeedbackKind(row.kind),
            at=row.at,
            permanent=row.permanent,
            detail_value=row.detail,
        )
