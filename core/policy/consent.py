"""Rules 1 and 2, consent: the permission a marketing category needs and the channels the
customer chose. Their own module because they are asked twice: when a delivery is decided
(`engine.decide`) and again just before a queued one is sent (`recheck_queued`), with the same
code both times."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from tidings.core.enums import (
    CategoryKind,
    DeliveryReason,
    DeliveryStatus,
    GrantStatus,
    RuleVerdict,
)
from tidings.core.policy.clock import as_utc
from tidings.core.policy.model import (
    NO_ADDRESS,
    NO_PERMISSION,
    OPTED_OUT,
    PASS,
    SKIP,
    STOP,
    CategoryRule,
    Decision,
    GrantState,
    Recipient,
    RuleOutcome,
    account_stop,
    suppression_detail,
)


def effective_grant_status(grant: GrantState | None, now: datetime) -> GrantStatus | None:
    """GRANTED past its expiry (expiry exactly at `now` included) reads as EXPIRED."""
    if grant is None:
        return None
    if (
        grant.status == GrantStatus.GRANTED
        and grant.expires_at is not None
        and as_utc(grant.expires_at) <= as_utc(now)
    ):
        return GrantStatus.EXPIRED
    return grant.status


def recheck_queued(
    category: CategoryRule, channel: str, recipient: Recipient, now: datetime
) -> Decision:
    """A QUEUED delivery about to be handed to a provider, checked again: consent may have
    been withdrawn, or the channel left out of the customer's preference, since it was decided.

    Rules 1 and 2, and of rule 3 the suppression of the address (a bounce heard since the
    decision): the delivery is not handed to an address known to bounce. The others held
    when the delivery was decided and asking them again would undo that: the delivery already
    counts toward today's cap, and quiet hours or a digest already released it. QUEUED, or
    SUPPRESSED by the first that stops it.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    now = as_utc(now)
    stopped = account_stop(recipient, channel)
    if stopped is not None:
        return stopped
    rules: list[RuleOutcome] = []
    for rule, check in CONSENT_RULES:
        verdict, detail = check(category, channel, recipient, now)
        rules.append(outcome(rule, verdict, detail, channel))
        if verdict is STOP:
            return Decision(channel, DeliveryStatus.SUPPRESSED, rule, None, tuple(rules))
    suppressed = suppression_detail(recipient, channel)
    if suppressed is not None:
        rules.append(outcome(NO_ADDRESS, STOP, suppressed, channel))
        return Decision(channel, DeliveryStatus.SUPPRESSED, NO_ADDRESS, None, tuple(rules))
    return Decision(channel, DeliveryStatus.QUEUED, None, None, tuple(rules))


def _permission(
    category: CategoryRule, channel: str, recipient: Recipient, now: datetime
) -> tuple[RuleVerdict, str]:
    """Rule 1: a MARKETING category needs a GRANTED, unexpired permission; nothing overrides
    it, `required` included. A PENDING grant (awaiting confirmation) permits nothing."""
    if category.kind != CategoryKind.MARKETING:
        return SKIP, "transactional: no permission needed"
    grant = recipient.grants.get((channel, category.key))
    status = effective_grant_status(grant, now)
    if status is GrantStatus.PENDING:  # confirmed opt-in: the customer has not confirmed yet
        return STOP, "awaiting confirmation"
    if status != GrantStatus.GRANTED:
        if status is None:
            return STOP, "no permission recorded"
        if status is GrantStatus.WITHDRAWN and grant is not None and grant.source:
            return STOP, f"permission WITHDRAWN ({grant.source})"  # a complaint, a STOP reply
        return STOP, f"permission {status.value}"
    assert grant is not None
    until = f" until {as_utc(grant.expires_at).isoformat()}" if grant.expires_at else ""
    return PASS, f"permission GRANTED{until}"


def _preference(
    category: CategoryRule, channel: str, recipient: Recipient, now: datetime
) -> tuple[RuleVerdict, str]:
    """Rule 2: the customer's preference for the category names the channels it wants."""
    preference = recipient.preference
    if category.required:
        return SKIP, "required"
    if preference is None:
        return PASS, "no preference for the category"
    if channel not in preference.channels:
        return STOP, f"preference allows {', '.join(preference.channels) or 'no channel'}"
    return PASS, "channel in the customer's preference"


# Rules 1 and 2, which a queued delivery is checked against again before it is sent.
CONSENT_RULES = ((NO_PERMISSION, _permission), (OPTED_OUT, _preference))


@lru_cache(maxsize=8192)
def outcome(rule: DeliveryReason, verdict: RuleVerdict, detail: str, channel: str) -> RuleOutcome:
    """Outcomes are immutable and mostly alike: share them across a fan-out's decisions."""
    return RuleOutcome(rule, verdict, detail, channel)
