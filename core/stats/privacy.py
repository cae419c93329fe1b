"""TIDINGS_STATS_MIN_GROUP: no row small enough to tell one customer's behaviour.

A delivery row whose `attempted` is below the minimum (a consent row: whose `customers` is)
is folded into one row marked `other`: one per day when the rows are grouped by DAY (a
day's total stays right), a single one otherwise. Its other dimensions are None, its counts
the sums of what it gathers, its `receipts_reported` true only when every gathered row's
was. An "other" row that is itself below the minimum is withheld altogether: folding one
small group alone would only rename it. A minimum of 1 folds nothing. The "other" rows come
last, in day order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from tidings.core.stats.rows import ConsentStatsRow, DeliveryStatsRow, sort_key


def fold_delivery_rows(rows: Sequence[DeliveryStatsRow], min_group: int) -> list[DeliveryStatsRow]:
    """`rows` with the groups below `min_group` folded into "other" rows (see the module)."""
    if min_group <= 1:
        return list(rows)
    kept: list[DeliveryStatsRow] = []
    others: dict[date | None, DeliveryStatsRow] = {}
    for row in rows:
        if row.attempted >= min_group:
            kept.append(row)
            continue
        other = others.get(row.day)
        if other is None:
            others[row.day] = other = DeliveryStatsRow(day=row.day, other=True)
        other.add(row)
    folded = [other for other in others.values() if other.attempted >= min_group]
    return sorted(kept, key=sort_key) + sorted(folded, key=sort_key)


def fold_consent_rows(rows: Sequence[ConsentStatsRow], min_group: int) -> list[ConsentStatsRow]:
    """`rows` with the groups of fewer than `min_group` pairs folded into one "other" row,
    withheld when it is itself below the minimum."""
    if min_group <= 1:
        return list(rows)
    kept = [row for row in rows if row.customers >= min_group]
    other = ConsentStatsRow(other=True)
    for row in rows:
        if row.customers < min_group:
            add_consent(other, row)
    if other.customers >= min_group:
        kept.append(other)
    return kept


CONSENT_COUNTS = (
    "customers",
    "reachable",
    "granted",
    "withdrawn",
    "expired",
    "pending",
    "never_asked",
    "expiring_soon",
)


def add_consent(total: ConsentStatsRow, row: ConsentStatsRow) -> None:
    """Add `row`'s counts and withdrawals into `total`."""
    for name in CONSENT_COUNTS:
        setattr(total, name, getattr(total, name) + getattr(row, name))
    for source, count in row.withdrawals.items():
        total.withdrawals[source] = total.withdrawals.get(source, 0) + count
