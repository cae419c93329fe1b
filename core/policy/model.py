"""The policy engine's inputs and outputs: frozen plain data, built by the caller from whatever
store it uses, so the engine itself never touches the ORM, the network or the clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tidings.core.enums import (
    CategoryKind,
    DeliveryReason,
    DeliveryStatus,
    Frequency,
    GrantStatus,
    RuleVerdict,
    SuppressionReason,
    Tier,
)
from tidings.core.policy.clock import parse_clock

# Rule names, in the contract's order. Each rule's name is also the reason it gives when it
# stops a delivery, so an explanation's stopping rule and the delivery's reason always agree.
NO_PERMISSION = DeliveryReason.NO_PERMISSION
OPTED_OUT = DeliveryReason.OPTED_OUT
NO_ADDRESS = DeliveryReason.NO_ADDRESS
FREQUENCY_CAP = DeliveryReason.FREQUENCY_CAP
QUIET_HOURS = DeliveryReason.QUIET_HOURS
DIGEST = DeliveryReason.DIGEST
RULES: tuple[DeliveryReason, ...] = (
    NO_PERMISSION, OPTED_OUT, NO_ADDRESS, FREQUENCY_CAP, QUIET_HOURS, DIGEST,
)  # fmt: skip

# RuleOutcome verdicts: "pass" the rule was checked and allows the delivery; "stop" it decides
# the delivery; "skip" it does not apply here (transactional category, `required`, ...).
PASS = RuleVerdict.PASS
STOP = RuleVerdict.STOP
SKIP = RuleVerdict.SKIP


@dataclass(frozen=True)
class CategoryRule:
    """What the engine needs of a Category."""

    key: str
    kind: CategoryKind
    required: bool
    respect_quiet_hours: bool
    fallback_channel: str | None
    default_channels: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", CategoryKind(self.kind))
        object.__setattr__(self, "default_channels", tuple(self.default_channels))


@dataclass(frozen=True)
class GrantState:
    """The current state of one (channel, category) permission, as stored; expiry is applied
    by the engine against its `now`, never written back."""

    status: GrantStatus
    expires_at: datetime | None
    # What last changed it, where that explains a refusal ("complaint", "sms_stop", ...).
    source: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", GrantStatus(self.status))


@dataclass(frozen=True)
class PreferenceState:
    """The customer's preference for one category. Quiet hours are "HH:MM" wall times in the
    customer's timezone, both or neither, and never equal; anything else is refused here so
    that a bad row fails where it is built, not halfway through a decision."""

    channels: tuple[str, ...]
    frequency: Frequency
    quiet_start: str | None = None
    quiet_end: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "frequency", Frequency(self.frequency))
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet hours need both a start and an end")
        if self.quiet_start is not None and self.quiet_end is not None:
            if parse_clock(self.quiet_start) == parse_clock(self.quiet_end):
                raise ValueError("quiet hours must not start and end at the same time")


@dataclass(frozen=True)
class Recipient:
    """One customer as the engine sees them, for one category.

    `grants` is keyed by (channel, category key). `sent_today` counts the deliveries that
    count toward caps (see `counts_toward_caps` and `CAP_COUNTED_STATUSES`) in the customer's
    local day (see `local_day_bounds`); `sent_today_by_category` splits that by category key.
    `suppressed` names the channels whose address is suppressed (a bounce), and why: rule 3
    treats them as having no address.
    """

    customer_id: str
    timezone: str
    tier: Tier
    addresses: frozenset[str]
    grants: Mapping[tuple[str, str], GrantState]
    preference: PreferenceState | None
    sent_today: int = 0
    sent_today_by_category: Mapping[str, int] = field(default_factory=dict)
    suppressed: Mapping[str, SuppressionReason] = field(default_factory=dict)
    # An ADMIN disabled the account: nothing at all is sent (`account_stop`).
    disabled: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "tier", Tier(self.tier))
        object.__setattr__(self, "addresses", frozenset(self.addresses))

    def decision_inputs(self) -> tuple:
        """Everything of this recipient the engine reads (all but the id), hashable. The
        engine is pure: recipients with equal inputs get equal decisions, so a batch of
        thousands decides each distinct one once."""
        return (
            self.timezone,
            self.tier,
            self.addresses,
            frozenset(self.grants.items()),
            self.preference,
            self.sent_today,
            frozenset(self.sent_today_by_category.items()),
            frozenset(self.suppressed.items()),
            self.disabled,
        )


CUSTOMER_DISABLED = DeliveryReason.CUSTOMER_DISABLED
DISABLED_DETAIL = "the customer's account is disabled"


# How rule 3 names a suppressed address: "suppressed: hard bounce".
SUPPRESSION_DETAIL: dict[SuppressionReason, str] = {
    SuppressionReason.HARD_BOUNCE: "suppressed: hard bounce",
    SuppressionReason.SOFT_BOUNCES: "suppressed: soft bounces",
}


def suppression_detail(recipient: Recipient, channel: str) -> str | None:
    """Rule 3's detail when the recipient's address on `channel` is suppressed, else None."""
    if channel not in recipient.addresses:
        return None
    reason = recipient.suppressed.get(channel)
    return None if reason is None else SUPPRESSION_DETAIL[SuppressionReason(reason)]


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule said about one channel. `channel` tells a fallback's rules apart from
    those of the channel asked for."""

    rule: DeliveryReason
    verdict: RuleVerdict
    detail: str | None
    channel: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule", DeliveryReason(self.rule))
        object.__setattr__(self, "verdict", RuleVerdict(self.verdict))

    def stored(self) -> dict[str, str | None]:
        """The form a delivery's `rules` column keeps: plain JSON, every field included."""
        return {
            "rule": self.rule.value,
            "verdict": self.verdict.value,
            "detail": self.detail,
            "channel": self.channel,
        }

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> RuleOutcome:
        """Back from `stored()`; rows written before `channel` was kept have none."""
        return cls(stored["rule"], stored["verdict"], stored.get("detail"), stored.get("channel"))


def stored_rules(rules: Iterable[RuleOutcome]) -> list[dict[str, str | None]]:
    """The one serialiser of rule outcomes, for every path that writes a delivery's rules."""
    return [rule.stored() for rule in rules]


@dataclass(frozen=True)
class Decision:
    """The engine's answer for one recipient and channel.

    `channel` is the channel actually chosen (the fallback, when one was taken); `not_before`
    is set, in UTC, exactly when the status is DEFERRED; `rules` lists every rule that spoke,
    up to and including the one that stopped the delivery.
    """

    channel: str
    status: DeliveryStatus
    reason: DeliveryReason | None
    not_before: datetime | None
    rules: tuple[RuleOutcome, ...]

    @property
    def fallback_taken(self) -> bool:
        """True when the decision is about the category's fallback, not the channel asked for."""
        return bool(self.rules) and self.rules[0].channel not in (None, self.channel)


def account_stop(recipient: Recipient, channel: str) -> Decision | None:
    """Before rule 1, outside the contract's six: a disabled account gets nothing, whatever
    the category (`required` included). None while the account is enabled."""
    if not recipient.disabled:
        return None
    stopped = RuleOutcome(CUSTOMER_DISABLED, STOP, DISABLED_DETAIL, channel)
    return Decision(channel, DeliveryStatus.SUPPRESSED, CUSTOMER_DISABLED, None, (stopped,))
