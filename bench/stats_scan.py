"""B7's baseline: the delivery stats as one plain SQL scan of the deliveries (JOIN messages,
GROUP BY, every count by FILTER, with the definitions of core/stats/rows.py `contribution`),
and the check that it and `delivery_stats` give the same answer, group by group."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg

from bench.customers_page import BenchmarkError
from tidings.core.enums import StatsDimension
from tidings.core.stats.rows import DeliveryStatsQuery, DeliveryStatsRow

# SMTP reports no delivery receipts: its sent mail counts as delivered unless it bounced.
NO_RECEIPTS = ("email",)
COMPARED = ("attempted", "suppressed", "deferred", "sent", "delivered", "failed", "bounced")
TOTALS = ("attempted", "sent", "opened")
COMPARED += ("complained", "opened", "clicked", "converted", "unsubscribed", "revenue")


def receipts(channel: str) -> bool:
    return channel not in NO_RECEIPTS


@dataclass(frozen=True)
class Figure:
    label: str
    query: DeliveryStatsQuery
    keys: tuple[str, ...]  # the scan's GROUP BY expressions, in the order of `dims`
    dims: tuple[str, ...]  # the DeliveryStatsRow fields they give


def figures(start: datetime, end: datetime) -> list[Figure]:
    by_day = (StatsDimension.CATEGORY, StatsDimension.CHANNEL, StatsDimension.DAY)
    dims = ("category", "channel", "day")

    def day_keys(zone: str) -> tuple[str, ...]:
        return ("m.category", "d.channel", f"(d.created_at AT TIME ZONE '{zone}')::date")

    week = end - timedelta(days=7)
    return [
        Figure(
            "category x channel x day, 90 days UTC",
            DeliveryStatsQuery(start, end, by_day),
            day_keys("UTC"),
            dims,
        ),
        Figure(
            "category x channel x day, 90 days Asia/Shanghai",
            DeliveryStatsQuery(start, end, by_day, timezone="Asia/Shanghai"),
            day_keys("Asia/Shanghai"),
            dims,
        ),
        Figure(
            "message, 7 days",
            DeliveryStatsQuery(week, end, (StatsDimension.MESSAGE,)),
            ("m.category", "d.message_id"),
            ("category", "message_id"),
        ),
    ]


_COUNTS = """
count(*) AS attempted,
count(*) FILTER (WHERE d.status = 'SUPPRESSED') AS suppressed,
count(*) FILTER (WHERE d.status = 'DEFERRED') AS deferred,
count(*) FILTER (WHERE d.status IN ('SENT', 'DELIVERED', 'BOUNCED', 'COMPLAINED')) AS sent,
count(*) FILTER (WHERE d.status IN ('DELIVERED', 'COMPLAINED') OR (d.status = 'SENT' AND
  (d.channel = ANY($3::text[]) OR d.opened_at IS NOT NULL OR d.clicked_at IS NOT NULL)))
  AS delivered,
count(*) FILTER (WHERE d.status = 'FAILED') AS failed,
count(*) FILTER (WHERE d.status = 'BOUNCED') AS bounced,
count(*) FILTER (WHERE d.status = 'COMPLAINED') AS complained,
count(*) FILTER (WHERE d.opened_at IS NOT NULL OR d.clicked_at IS NOT NULL) AS opened,
count(*) FILTER (WHERE d.clicked_at IS NOT NULL) AS clicked,
count(*) FILTER (WHERE d.converted_at IS NOT NULL) AS converted,
count(*) FILTER (WHERE d.unsubscribed_at IS NOT NULL) AS unsubscribed,
coalesce(sum(d.revenue), 0) AS revenue
"""


def scan_sql(figure: Figure) -> str:
    pairs = zip(figure.keys, figure.dims, strict=True)
    keys = ", ".join(f"{expr} AS {name}" for expr, name in pairs)
    return (
        f"SELECT {keys}, {_COUNTS} FROM deliveries d JOIN messages m ON m.id = d.message_id"
        " WHERE d.created_at >= $1 AND d.created_at < $2"
        f" GROUP BY {', '.join(str(i + 1) for i in range(len(figure.dims)))}"
    )


async def scan(conn: asyncpg.Connection, figure: Figure) -> list[asyncpg.Record]:
    return await conn.fetch(
        scan_sql(figure), figure.query.start, figure.query.end, list(NO_RECEIPTS)
    )


@dataclass
class Totals:
    """Attempted, sent and opened per category, as both sides gave them (first figure)."""

    per_category: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def describe(self) -> str:
        return (
            ", ".join(
                f"{category} {a:,}/{s:,}/{o:,}"
                for category, (a, s, o) in sorted(self.per_category.items())
            )
            + " attempted/sent/opened"
        )


def _key(figure: Figure, row: DeliveryStatsRow, categories: dict) -> tuple:
    """A row's group as the scan names it (the scan also gives each message's category)."""
    if "message_id" in figure.dims:
        return (categories.get(row.message_id), row.message_id)
    return tuple(getattr(row, name) for name in figure.dims)


def agree(
    figure: Figure,
    ours: list[DeliveryStatsRow],
    scanned: list[asyncpg.Record],
    totals: Totals,
) -> None:
    """Raise BenchmarkError unless both answers hold the same groups with the same counts,
    and the same attempted, sent and opened per category."""
    categories = {}
    if "message_id" in figure.dims:
        categories = {r["message_id"]: r["category"] for r in scanned}
    theirs = {tuple(r[name] for name in figure.dims): r for r in scanned}
    mine: dict[tuple, DeliveryStatsRow] = {}
    for row in ours:
        if row.other:
            raise BenchmarkError(f"B7 {figure.label}: an 'other' row (TIDINGS_STATS_MIN_GROUP?)")
        mine[_key(figure, row, categories)] = row
    if set(mine) != set(theirs):
        only_ours = sorted(map(str, set(mine) - set(theirs)))[:5]
        only_scan = sorted(map(str, set(theirs) - set(mine)))[:5]
        raise BenchmarkError(
            f"B7 {figure.label}: the groups differ ({len(mine)} from delivery_stats, "
            f"{len(theirs)} from the scan; only ours: {only_ours}; only the scan's: {only_scan})"
        )
    per_category: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    for key, row in mine.items():
        expected = theirs[key]
        for name in COMPARED:
            got, want = getattr(row, name), expected[name]
            if (Decimal(got) if name == "revenue" else got) != want:
                raise BenchmarkError(
                    f"B7 {figure.label}: group {key}: {name} is {got} from delivery_stats, "
                    f"{want} from the scan"
                )
        category = key[0]
        sums = per_category[category]
        ours_then_scan = (row.attempted, row.sent, row.opened, *(expected[n] for n in TOTALS))
        for i, value in enumerate(ours_then_scan):
            sums[i] += value
    for category, sums in per_category.items():
        if sums[:3] != sums[3:]:
            raise BenchmarkError(
                f"B7 {figure.label}: {category}: attempted/sent/opened {sums[:3]} from "
                f"delivery_stats, {sums[3:]} from the scan"
            )
    if not totals.per_category:
        totals.per_category = {c: (s[0], s[1], s[2]) for c, s in per_category.items()}
