"""What the stats answer: the query, one row of delivery counts and its rates.

Every count is of deliveries (a recipient × channel), and each delivery counts toward the
quarter hour it was created in, whatever happened to it later: an open three days after the
send raises the open rate of the send's day. So a day's rates are those of the messages
attempted that day, and a rate never has a numerator from one set of deliveries and a
denominator from another.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal

from tidings.core.enums import DeliveryReason, DeliveryStatus, StatsDimension, Tier

# The counted columns, in the order the rollups and the delta log keep them. "unconfirmed"
# is a sent delivery no receipt has confirmed yet: delivered for a channel whose providers
# report no receipts (SMTP, FCM), not yet delivered for one whose providers do.
COUNTS = (
    "attempted",
    "suppressed",
    "deferred",
    "sent",
    "delivered",
    "unconfirmed",
    "failed",
    "bounced",
    "complained",
    "opened",
    "clicked",
    "converted",
    "unsubscribed",
)
SENT_STATUSES = (
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.BOUNCED,
    DeliveryStatus.COMPLAINED,
)
QUARTER = 900  # seconds: every time zone's midnight falls on a quarter hour
MAX_DAYS = 400  # the longest period one query may cover


@dataclass(frozen=True)
class StatsFilter:
    """Only these values of each dimension; None: all."""

    categories: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    tiers: tuple[Tier, ...] | None = None
    message_ids: tuple[uuid.UUID, ...] | None = None
    reasons: tuple[DeliveryReason, ...] | None = None


@dataclass(frozen=True)
class DeliveryStatsQuery:
    """Deliveries created in [start, end), both on a quarter hour, grouped by `group_by`;
    DAY is the date in `timezone` (an IANA name)."""

    start: datetime
    end: datetime
    group_by: tuple[StatsDimension, ...]
    filter: StatsFilter = field(default_factory=StatsFilter)
    timezone: str = "UTC"


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


@dataclass
class DeliveryStatsRow:
    """One group's counts. A dimension not grouped by is None; `other` is the row that
    gathers the groups smaller than TIDINGS_STATS_MIN_GROUP (its dimensions but DAY are
    None)."""

    category: str | None = None
    channel: str | None = None
    tier: Tier | None = None
    day: date | None = None
    message_id: uuid.UUID | None = None
    reason: DeliveryReason | None = None
    other: bool = False
    attempted: int = 0
    suppressed: int = 0
    deferred: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    bounced: int = 0
    complained: int = 0
    opened: int = 0
    clicked: int = 0
    converted: int = 0
    revenue: Decimal = Decimal(0)
    unsubscribed: int = 0
    # False when a channel in the row has no provider reporting receipts: its sent
    # deliveries count as delivered unless they bounced or failed.
    receipts_reported: bool = True

    @property
    def delivery_rate(self) -> float | None:
        return _rate(self.delivered, self.sent)

    @property
    def bounce_rate(self) -> float | None:
        return _rate(self.bounced, self.sent)

    @property
    def open_rate(self) -> float | None:
        return _rate(self.opened, self.delivered)

    @property
    def click_rate(self) -> float | None:
        return _rate(self.clicked, self.delivered)

    @property
    def conversion_rate(self) -> float | None:
        return _rate(self.converted, self.delivered)

    @property
    def unsubscribe_rate(self) -> float | None:
        return _rate(self.unsubscribed, self.delivered)

    @property
    def complaint_rate(self) -> float | None:
        return _rate(self.complained, self.delivered)

    @property
    def click_to_open_rate(self) -> float | None:
        return _rate(self.clicked, self.opened)

    def key(self) -> tuple:
        return (
            self.category,
            self.channel,
            self.tier,
            self.day,
            self.message_id,
            self.reason,
            self.other,
        )

    def add(self, other: DeliveryStatsRow) -> None:
        """Add another row's counts (receipts reported only when both did)."""
        for name in ROW_COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.receipts_reported = self.receipts_reported and other.receipts_reported


ROW_COUNTS = tuple(
    f.name for f in fields(DeliveryStatsRow) if f.type in ("int", "Decimal") and f.name != "other"
)


def contribution(
    status: DeliveryStatus,
    opened_at: object,
    clicked_at: object,
    converted_at: object,
    revenue: Decimal | None,
    unsubscribed_at: object,
) -> tuple[tuple[int, ...], Decimal]:
    """What one delivery adds to its group: the COUNTS in order, and its revenue. The
    rollups' triggers (core/stats/triggers.py) say the same in SQL."""
    engaged = opened_at is not None or clicked_at is not None
    sent = status in SENT_STATUSES
    confirmed = status in (DeliveryStatus.DELIVERED, DeliveryStatus.COMPLAINED) or (
        status is DeliveryStatus.SENT and engaged
    )
    counts = (
        1,
        int(status is DeliveryStatus.SUPPRESSED),
        int(status is DeliveryStatus.DEFERRED),
        int(sent),
        int(confirmed),
        int(status is DeliveryStatus.SENT and not engaged),
        int(status is DeliveryStatus.FAILED),
        int(status is DeliveryStatus.BOUNCED),
        int(status is DeliveryStatus.COMPLAINED),
        int(engaged),
        int(clicked_at is not None),
        int(converted_at is not None),
        int(unsubscribed_at is not None),
    )
    return counts, revenue or Decimal(0)


_DELIVERED = COUNTS.index("delivered")
_UNCONFIRMED = COUNTS.index("unconfirmed")
_KEPT = tuple((i, name) for i, name in enumerate(COUNTS) if name != "unconfirmed")


def finish_rows(
    groups: Mapping[tuple, tuple[Sequence[int], Decimal]],
    dims: Sequence[StatsDimension],
    receipts: Callable[[str], bool],
) -> list[DeliveryStatsRow]:
    """Rows from raw sums keyed by (day, category, channel, tier, reason, message_id, real
    channel): the real channel decides what an unconfirmed delivery counts as, and is then
    folded away unless CHANNEL is grouped by. Sorted by their dimensions."""
    on = {d: d in dims for d in StatsDimension}
    reported_by: dict[str, bool] = {}
    merged: dict[tuple, list] = {}
    for (day, category, channel, tier, reason, message_id, real), (counts, money) in groups.items():
        reported = reported_by.get(real)
        if reported is None:
            reported = reported_by[real] = receipts(real)
        total = list(counts)
        if not reported:
            total[_DELIVERED] += total[_UNCONFIRMED]
        key = (
            category if on[StatsDimension.CATEGORY] else None,
            channel if on[StatsDimension.CHANNEL] else None,
            (tier or None) if on[StatsDimension.TIER] else None,
            day if on[StatsDimension.DAY] else None,
            message_id if on[StatsDimension.MESSAGE] else None,
            (reason or None) if on[StatsDimension.REASON] else None,
        )
        found = merged.get(key)
        if found is None:
            merged[key] = [total, money, reported]
        else:
            found[0] = [a + b for a, b in zip(found[0], total, strict=True)]
            found[1] += money
            found[2] = found[2] and reported
    rows = []
    for key in sorted(merged, key=_order):
        total, money, reported = merged[key]
        category, channel, tier, day, message_id, reason = key
        rows.append(
            DeliveryStatsRow(
                category=category,
                channel=channel,
                tier=Tier(tier) if tier else None,
                day=day,
                message_id=message_id,
                reason=DeliveryReason(reason) if reason else None,
                revenue=money,
                receipts_reported=reported,
                **{name: total[i] for i, name in _KEPT},
            )
        )
    return rows


def _order(key: tuple) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in key)


def sort_key(row: DeliveryStatsRow) -> tuple:
    """The order of `finish_rows`, for rows built elsewhere (the min-group fold)."""
    return (*_order(row.key()[:6]), str(row.other))


@dataclass(frozen=True)
class ConsentStatsQuery:
    """Where permission stands at `as_of` per group, and the withdrawals made in
    [since, as_of) by source. Dimensions: CATEGORY, CHANNEL and TIER only."""

    group_by: tuple[StatsDimension, ...]
    as_of: datetime
    since: datetime


@dataclass
class ConsentStatsRow:
    """One group of customer × category × channel pairs. A dimension not grouped by is
    None; `other` gathers the groups smaller than TIDINGS_STATS_MIN_GROUP."""

    category: str | None = None
    channel: str | None = None
    tier: Tier | None = None
    other: bool = False
    customers: int = 0  # the pairs in the group
    reachable: int = 0  # granted, and an address to send to
    granted: int = 0
    withdrawn: int = 0
    expired: int = 0
    pending: int = 0
    never_asked: int = 0
    expiring_soon: int = 0  # granted, and expiring in the 30 days after as_of
    # Withdrawals in [since, as_of) by the ledger entry's source (preference_center,
    # one_click, stop, complaint, api, ...).
    withdrawals: dict[str, int] = field(default_factory=dict)

    @property
    def opt_in_rate(self) -> float | None:
        return _rate(self.granted, self.customers)
