"""Rule 3 and suppressed addresses, over plain data: a suppressed address counts as none,
says why in the rule's detail, and the fallback applies as for a missing address; a queued
delivery is stopped by it too. The keyed hash the suppressions are kept by."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tidings.core.address_hash import AddressHasher, normalise
from tidings.core.delivery.suppressed import suppressible
from tidings.core.enums import (
    CategoryKind,
    DeliveryReason,
    DeliveryStatus,
    Frequency,
    RuleVerdict,
    SuppressionReason,
    Tier,
)
from tidings.core.policy import (
    CategoryRule,
    Recipient,
    TierPolicy,
    decide,
    decide_channels,
    recheck_queued,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NO_ADDRESS = DeliveryReason.NO_ADDRESS
POLICY = TierPolicy(Frequency.REALTIME, daily_cap=None, category_daily_cap=None)
ORDERS = CategoryRule(
    key="orders",
    kind=CategoryKind.TRANSACTIONAL,
    required=False,
    respect_quiet_hours=False,
    fallback_channel=None,
    default_channels=("email",),
)


def person(**suppressed: SuppressionReason) -> Recipient:
    return Recipient(
        customer_id="c1",
        timezone="UTC",
        tier=Tier.ORDINARY,
        addresses=frozenset({"email", "sms", "in_app"}),
        grants={},
        preference=None,
        suppressed=suppressed,
    )


@pytest.mark.parametrize(
    ("reason", "detail"),
    [
        (SuppressionReason.HARD_BOUNCE, "suppressed: hard bounce"),
        (SuppressionReason.SOFT_BOUNCES, "suppressed: soft bounces"),
    ],
)
def test_a_suppressed_address_counts_as_none(reason, detail):
    decision = decide(ORDERS, "email", person(email=reason), POLICY, NOW)
    assert (decision.status, decision.reason) == (
        DeliveryStatus.SUPPRESSED,
        DeliveryReason.NO_ADDRESS,
    )
    last = decision.rules[-1]
    assert (last.rule, last.verdict, last.detail) == (NO_ADDRESS, RuleVerdict.STOP, detail)


def test_the_fallback_applies_to_a_suppressed_address():
    category = replace(ORDERS, fallback_channel="sms")
    decision = decide(category, "email", person(email=SuppressionReason.HARD_BOUNCE), POLICY, NOW)
    assert (decision.channel, decision.status) == ("sms", DeliveryStatus.QUEUED)
    assert decision.rules[2].detail == "suppressed: hard bounce; trying fallback sms"
    both = person(email=SuppressionReason.HARD_BOUNCE, sms=SuppressionReason.SOFT_BOUNCES)
    decision = decide(category, "email", both, POLICY, NOW)
    assert (decision.channel, decision.status, decision.reason) == (
        "sms",
        DeliveryStatus.SUPPRESSED,
        NO_ADDRESS,
    )
    assert decision.rules[-1].detail == "fallback from email: suppressed: soft bounces"
    first, _ = decide_channels(category, ["email", "sms"], person(email="HARD_BOUNCE"), POLICY, NOW)
    assert first.rules[-1].detail == "suppressed: hard bounce; fallback sms is decided on its own"


def test_other_channels_and_other_customers_are_untouched():
    assert decide(ORDERS, "sms", person(email="HARD_BOUNCE"), POLICY, NOW).status is (
        DeliveryStatus.QUEUED
    )
    assert decide(ORDERS, "email", person(), POLICY, NOW).rules[2].detail == (
        "address on file for email"
    )


def test_a_queued_delivery_is_stopped_by_a_suppression_heard_since():
    decision = recheck_queued(ORDERS, "email", person(email="HARD_BOUNCE"), NOW)
    assert (decision.status, decision.reason) == (DeliveryStatus.SUPPRESSED, NO_ADDRESS)
    assert decision.rules[-1].detail == "suppressed: hard bounce"
    assert recheck_queued(ORDERS, "email", person(), NOW).status is DeliveryStatus.QUEUED


@pytest.mark.parametrize(
    ("channel", "given", "same_as"),
    [
        ("email", "  Ann.Lee@Example.COM ", "ann.lee@example.com"),
        ("sms", "+15550001234", "+15550001234"),
        ("chat", " ann-handle ", "ann-handle"),
    ],
)
def test_addresses_are_normalised_then_hashed_under_a_key_of_their_own(channel, given, same_as):
    hasher = AddressHasher("a-secret-key")
    assert normalise(channel, given) == same_as
    assert hasher.digest(channel, given) == hasher.digest(channel, same_as)
    digest = hasher.digest(channel, same_as)
    assert len(digest) == 64 and same_as not in digest
    assert AddressHasher("another-secret-key").digest(channel, same_as) != digest
    assert hasher.digest("other", same_as) != digest  # per channel
    assert "secret" not in repr(hasher)


def test_only_served_channels_are_hashed_when_a_batch_looks_for_suppressions():
    """A customer's attributes hold all sorts of strings: only the channels a provider
    serves can ever bounce, so only their addresses are looked up."""
    customer = uuid.uuid4()
    attributes = {"chat": "ann-handle", "nickname": "ann", "plan": "gold"}
    everything = suppressible(customer, "ann@example.com", "+15550001234", attributes)
    assert set(everything) == {"email", "sms", "chat", "nickname", "plan"}
    served = suppressible(
        customer, "ann@example.com", None, attributes, ["email", "sms", "chat", "push", "in_app"]
    )
    assert served == {"email": "ann@example.com", "chat": "ann-handle"}
    assert AddressHasher("a-secret-key", ["email", "chat"]).channels == {"email", "chat"}
