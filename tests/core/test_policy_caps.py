"""How capped deliveries are counted (policy/caps.py): in the local day they go out, a digest
once, overall and per category it holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tidings.core.policy import Counted, after_sending, due_at, held_for_digest, tally
from tidings.core.policy.model import Recipient

START = datetime(2030, 3, 10, tzinfo=UTC)
END = START + timedelta(days=1)
NINE = START + timedelta(hours=9)


def test_a_delivery_counts_when_it_goes_out_not_when_it_was_asked_for():
    evening = START - timedelta(hours=2)
    assert due_at(evening, START + timedelta(hours=8)) == START + timedelta(hours=8)
    assert due_at(evening, None) == evening


def test_tally_counts_the_day_only_and_a_digest_once():
    counted = [
        Counted("promos", "email", START - timedelta(seconds=1)),  # yesterday
        Counted("promos", "email", START),
        Counted("promos", "email", START),  # two sends at one instant are two
        Counted("promos", "email", NINE, digest=True),
        Counted("promos", "email", NINE, digest=True),
        Counted("news", "email", NINE, digest=True),  # the same digest, another category
        Counted("news", "in_app", NINE, digest=True),  # another channel: another digest
        Counted("news", "email", END),  # tomorrow
    ]
    assert tally(counted, START, END) == (4, {"promos": 3, "news": 2})


def test_held_for_digest_reads_the_stored_rules():
    assert held_for_digest([{"rule": "DIGEST", "verdict": "stop", "detail": "x"}])
    assert not held_for_digest([{"rule": "DIGEST", "verdict": "pass"}])
    assert not held_for_digest([{"rule": "QUIET_HOURS", "verdict": "stop"}])


def test_after_sending_adds_one_overall_and_one_per_category():
    recipient = Recipient("c", "UTC", "POTENTIAL", frozenset(), {}, None, 2, {"promos": 1})
    sent = after_sending(recipient, ["promos", "news", "promos"])
    assert (sent.sent_today, dict(sent.sent_today_by_category)) == (3, {"promos": 2, "news": 1})
    assert (recipient.sent_today, dict(recipient.sent_today_by_category)) == (2, {"promos": 1})
