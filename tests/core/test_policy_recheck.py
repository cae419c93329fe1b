"""`recheck_queued`: a queued delivery checked again before it is sent, by the same two rules
(permission, the customer's channels) that decided it, and nothing else; and the one stored
form of rule outcomes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given

from tests.core.test_policy import (
    NOW,
    REALTIME_UNCAPPED,
    customer,
    granted,
    marketing,
    pref,
    transactional,
)
from tests.core.test_policy_properties import PROPERTY, situations
from tidings.core.enums import DeliveryReason, DeliveryStatus, Frequency, GrantStatus, RuleVerdict
from tidings.core.policy import (
    NO_PERMISSION,
    OPTED_OUT,
    GrantState,
    RuleOutcome,
    decide,
    recheck_queued,
    stored_rules,
)

CASES = [
    # (what changed since the decision, category, recipient, status, reason)
    ("nothing", marketing(), customer(), DeliveryStatus.QUEUED, None),
    (
        "permission withdrawn",
        marketing(),
        customer(grants={("email", "promo"): GrantState(GrantStatus.WITHDRAWN, None)}),
        DeliveryStatus.SUPPRESSED,
        NO_PERMISSION,
    ),
    (
        "permission expired",
        marketing(),
        customer(grants=granted("email", expires_at=NOW - timedelta(seconds=1))),
        DeliveryStatus.SUPPRESSED,
        NO_PERMISSION,
    ),
    (
        "required does not override permission",
        marketing(required=True),
        customer(grants={}),
        DeliveryStatus.SUPPRESSED,
        NO_PERMISSION,
    ),
    ("transactional needs none", transactional(), customer(grants={}), DeliveryStatus.QUEUED, None),
    (
        "channel left out of the preference",
        marketing(),
        customer(preference=pref("sms")),
        DeliveryStatus.SUPPRESSED,
        OPTED_OUT,
    ),
    (
        "a preference naming no channel",
        marketing(),
        customer(preference=pref()),
        DeliveryStatus.SUPPRESSED,
        OPTED_OUT,
    ),
    (
        "required ignores the preference",
        marketing(required=True),
        customer(preference=pref("sms")),
        DeliveryStatus.QUEUED,
        None,
    ),
    # Rules 3-6 are not asked again: the delivery was released by them already.
    (
        "address gone, cap reached, quiet hours, digest",
        marketing(),
        customer(
            addresses=frozenset(),
            sent_today=99,
            preference=pref("email", frequency=Frequency.DAILY_DIGEST, quiet=("00:00", "23:59")),
        ),
        DeliveryStatus.QUEUED,
        None,
    ),
]


@pytest.mark.parametrize(
    ("case", "category", "recipient", "status", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_recheck_asks_permission_and_preference_only(case, category, recipient, status, reason):
    decision = recheck_queued(category, "email", recipient, NOW)
    assert (decision.status, decision.reason) == (status, reason)
    assert decision.channel == "email" and decision.not_before is None
    assert [r.rule for r in decision.rules] == [NO_PERMISSION, OPTED_OUT][: len(decision.rules)]
    if reason is not None:
        assert (decision.rules[-1].rule, decision.rules[-1].verdict) == (reason, RuleVerdict.STOP)


def test_recheck_refuses_a_naive_clock():
    with pytest.raises(ValueError, match="timezone-aware"):
        recheck_queued(marketing(), "email", customer(), NOW.replace(tzinfo=None))


@PROPERTY
@given(situations())
def test_recheck_agrees_with_decide_on_the_first_two_rules(situation):
    """Where `decide` stops at rule 1 or 2, the recheck stops with the same words; otherwise
    the recheck lets the delivery go, whatever rules 3-6 would say now."""
    category, channel, recipient, policy, now = situation
    decided = decide(category, channel, recipient, policy, now, fallback=False)
    rechecked = recheck_queued(category, channel, recipient, now)
    if decided.reason in (NO_PERMISSION, OPTED_OUT):
        assert (rechecked.status, rechecked.reason) == (DeliveryStatus.SUPPRESSED, decided.reason)
        assert rechecked.rules == decided.rules
    else:
        assert (rechecked.status, rechecked.reason) == (DeliveryStatus.QUEUED, None)
        assert rechecked.rules == decided.rules[:2]


def test_rule_outcomes_are_stored_whole_and_read_back_alike():
    decision = decide(
        marketing(), "email", customer(preference=pref("sms")), REALTIME_UNCAPPED, NOW
    )
    stored = stored_rules(decision.rules)
    assert stored[-1] == {
        "rule": "OPTED_OUT",
        "verdict": "stop",
        "detail": "preference allows sms",
        "channel": "email",
    }
    assert tuple(RuleOutcome.from_stored(row) for row in stored) == decision.rules
    older = {"rule": "DIGEST", "verdict": "pass", "detail": None}  # before `channel` was kept
    assert RuleOutcome.from_stored(older) == RuleOutcome(DeliveryReason.DIGEST, "pass", None)
