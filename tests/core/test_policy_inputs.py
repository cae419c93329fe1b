"""`Recipient.decision_inputs`: what a batch decides once for every customer alike. It must
cover every field the engine may read (all but the id), or two customers who should be
decided apart would share a decision."""

from __future__ import annotations

import functools
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

import pytest

from tidings.core.enums import CategoryKind, Frequency, GrantStatus, SuppressionReason, Tier
from tidings.core.policy import (
    DEFAULT_TIER_POLICIES,
    CategoryRule,
    GrantState,
    PreferenceState,
    Recipient,
    decide_channels,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BASE = Recipient(
    customer_id="c1",
    timezone="UTC",
    tier=Tier.ORDINARY,
    addresses=frozenset({"email"}),
    grants={("email", "promo"): GrantState(GrantStatus.GRANTED, None)},
    preference=PreferenceState(("email",), Frequency.REALTIME),
    sent_today=1,
    sent_today_by_category={"promo": 1},
    suppressed={},
    disabled=False,
)
# One change per field the engine reads: each must tell the recipient apart.
CHANGES = {
    "timezone": "Asia/Shanghai",
    "tier": Tier.HIGH_VALUE,
    "addresses": frozenset({"email", "sms"}),
    "grants": {("email", "promo"): GrantState(GrantStatus.GRANTED, NOW + timedelta(days=1))},
    "preference": PreferenceState(("email",), Frequency.REALTIME, "22:00", "08:00"),
    "sent_today": 2,
    "sent_today_by_category": {"promo": 1, "news": 1},
    "suppressed": {"email": SuppressionReason.HARD_BOUNCE},
    "disabled": True,
}


def test_every_field_but_the_id_has_a_change_in_this_table():
    assert set(CHANGES) == {f.name for f in fields(Recipient)} - {"customer_id"}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_change_to_any_field_the_engine_reads_tells_recipients_apart(name):
    assert replace(BASE, **{name: CHANGES[name]}).decision_inputs() != BASE.decision_inputs()


def test_recipients_alike_but_for_the_id_share_their_inputs():
    other = replace(
        BASE,
        customer_id="c2",
        grants=dict(BASE.grants),
        sent_today_by_category=dict(BASE.sent_today_by_category),
    )
    assert other.decision_inputs() == BASE.decision_inputs()
    assert hash(other.decision_inputs()) == hash(BASE.decision_inputs())


@pytest.mark.parametrize("name", [None, *sorted(CHANGES)])
def test_the_engine_decides_recipients_alike_but_for_the_id_alike(name):
    """What makes sharing a decision sound: the engine never reads the id."""
    rule = CategoryRule("promo", CategoryKind.MARKETING, False, True, "sms", ("email", "sms"))
    recipient = BASE if name is None else replace(BASE, **{name: CHANGES[name]})
    policy = DEFAULT_TIER_POLICIES[recipient.tier]
    decide = functools.partial(decide_channels, rule, ("email", "sms"), policy=policy, now=NOW)
    assert decide(recipient=replace(recipient, customer_id="other")) == decide(recipient=recipient)
