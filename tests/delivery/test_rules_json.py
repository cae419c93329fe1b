"""The stored JSON of rule outcomes: the one serialiser's output, computed once per distinct
sequence by a cache its owner builds (no module-level state shared between apps)."""

from __future__ import annotations

import json

from tidings.core.delivery.bulk import RulesJson
from tidings.core.enums import DeliveryReason, RuleVerdict
from tidings.core.policy import RuleOutcome, stored_rules

PASSED = RuleOutcome(DeliveryReason.NO_PERMISSION, RuleVerdict.PASS, "permission GRANTED", "sms")
STOPPED = RuleOutcome(DeliveryReason.OPTED_OUT, RuleVerdict.STOP, "preference allows email", "sms")


def test_the_text_is_the_stored_form_with_the_channel():
    encode = RulesJson()
    rules = (PASSED, STOPPED)
    assert json.loads(encode(rules)) == stored_rules(rules)
    assert json.loads(encode(rules))[1]["channel"] == "sms"


def test_each_owner_has_its_own_bounded_cache():
    first, second = RulesJson(max_entries=2), RulesJson(max_entries=2)
    first((PASSED,))
    first((STOPPED,))
    assert len(first._cache) == 2 and len(second._cache) == 0
    first((PASSED, STOPPED))  # full: cleared whole, then this one kept
    assert len(first._cache) == 1
    assert json.loads(first((PASSED,))) == stored_rules((PASSED,))
