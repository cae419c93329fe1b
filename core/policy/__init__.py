"""The policy engine: who may be sent what, on which channel, and when.

Pure functions over frozen plain data (no ORM, no I/O, no clock of its own), so that the
send path, `explainDelivery` and the tests all get the same answer from the same inputs.
"""

from tidings.core.enums import DeliveryStatus
from tidings.core.policy.caps import Counted, after_sending, due_at, held_for_digest, tally
from tidings.core.policy.clock import (
    first_instant,
    local_day_bounds,
    next_digest,
    parse_clock,
    quiet_hours_end,
    zone_for,
)
from tidings.core.policy.consent import effective_grant_status, recheck_queued
from tidings.core.policy.engine import (
    CAP_COUNTED_STATUSES,
    channels_for,
    counts_toward_caps,
    decide,
    decide_channels,
)
from tidings.core.policy.model import (
    DIGEST,
    FREQUENCY_CAP,
    NO_ADDRESS,
    NO_PERMISSION,
    OPTED_OUT,
    PASS,
    QUIET_HOURS,
    RULES,
    SKIP,
    STOP,
    CategoryRule,
    Decision,
    GrantState,
    PreferenceState,
    Recipient,
    RuleOutcome,
    stored_rules,
)
from tidings.core.policy.tiers import (
    DEFAULT_TIER_POLICIES,
    TierPolicy,
    TierPolicyError,
    parse_tier_policies,
)

__all__ = [
    "CAP_COUNTED_STATUSES",
    "DEFAULT_TIER_POLICIES",
    "DIGEST",
    "FREQUENCY_CAP",
    "NO_ADDRESS",
    "NO_PERMISSION",
    "OPTED_OUT",
    "PASS",
    "QUIET_HOURS",
    "RULES",
    "SKIP",
    "STOP",
    "CategoryRule",
    "Counted",
    "Decision",
    "DeliveryStatus",
    "GrantState",
    "PreferenceState",
    "Recipient",
    "RuleOutcome",
    "TierPolicy",
    "TierPolicyError",
    "after_sending",
    "channels_for",
    "counts_toward_caps",
    "decide",
    "decide_channels",
    "due_at",
    "effective_grant_status",
    "first_instant",
    "held_for_digest",
    "local_day_bounds",
    "next_digest",
    "parse_clock",
    "parse_tier_policies",
    "quiet_hours_end",
    "recheck_queued",
    "stored_rules",
    "tally",
    "zone_for",
]
