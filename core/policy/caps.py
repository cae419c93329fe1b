"""What counts toward the daily caps, and in which local day: pure, like the engine.

A capped delivery counts in the customer's local day in which it goes out (or is due to):
its `not_before` when it has one (a deferred delivery released when quiet hours end, a
retry), else the moment it was created. Counting by creation instead would put a delivery
deferred overnight in the evening it was asked for, and the morning it is sent would not see
it: everything held overnight would go out at once, whatever the cap.

A digest is one message to the customer, however many deliveries it holds: it counts once
toward the overall cap, and once toward the cap of each category it holds. Its rows are told
apart by the DIGEST rule that held them, and one digest by its channel and release time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from tidings.core.enums import DeliveryReason, RuleVerdict
from tidings.core.policy.model import Recipient


@dataclass(frozen=True)
class Counted:
    """One capped delivery as counting sees it. `digest`: it went out in a digest."""

    category: str
    channel: str
    due: datetime
    digest: bool = False


def due_at(created_at: datetime, not_before: datetime | None) -> datetime:
    """When a delivery goes out, or is due to: the day it counts in."""
    return not_before if not_before is not None else created_at


def held_for_digest(rules: Iterable[Mapping[str, object]]) -> bool:
    """Whether a delivery's stored rules show it was held for a digest."""
    return any(
        rule.get("rule") == DeliveryReason.DIGEST.value
        and rule.get("verdict") == RuleVerdict.STOP.value
        for rule in rules
    )


def tally(counted: Iterable[Counted], start: datetime, end: datetime) -> tuple[int, dict[str, int]]:
    """(overall, by category) of what counts in [start, end): one per delivery, one per
    digest (and one per category a digest holds)."""
    overall: set[object] = set()
    by_category: dict[str, set[object]] = {}
    for index, item in enumerate(counted):
        if not start <= item.due < end:
            continue
        key: object = ("digest", item.channel, item.due) if item.digest else index
        overall.add(key)
        by_category.setdefault(item.category, set()).add(key)
    return len(overall), {category: len(keys) for category, keys in by_category.items()}


def after_sending(recipient: Recipient, categories: Iterable[str]) -> Recipient:
    """`recipient` once one more capped message has gone today: one delivery of a category,
    or one digest holding these categories."""
    by_category = dict(recipient.sent_today_by_category)
    for category in set(categories):
        by_category[category] = by_category.get(category, 0) + 1
    return replace(
        recipient, sent_today=recipient.sent_today + 1, sent_today_by_category=by_category
    )
