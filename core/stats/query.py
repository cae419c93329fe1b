"""`deliveryStats` answered from the rollups (core/models/stats.py), never a scan of the
deliveries: rollup rows and the deltas not yet folded, read in one statement."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise import connections

from tidings.core.delivery.claims import is_postgres
from tidings.core.enums import StatsDimension
from tidings.core.errors import UserInputError
from tidings.core.stats.fold import COUNTED
from tidings.core.stats.rows import (
    MAX_DAYS,
    QUARTER,
    DeliveryStatsQuery,
    DeliveryStatsRow,
    finish_rows,
)


def check_query(query: DeliveryStatsQuery) -> ZoneInfo:
    """Refuse what the rollups cannot answer exactly. Returns the time zone."""
    try:
        zone = ZoneInfo(query.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserInputError(
            "UNKNOWN_TIMEZONE", "timezone must be an IANA name such as Asia/Shanghai.", "timezone"
        ) from None
    for name, value in (("from", query.start), ("to", query.end)):
        if value.tzinfo is None:
            raise UserInputError("NAIVE_DATETIME", f"{name} must carry its UTC offset.", name)
        if int(value.timestamp()) % QUARTER or value.microsecond:
            raise UserInputError(
                "NOT_ON_QUARTER_HOUR",
                f"{name} must fall on a quarter hour (:00, :15, :30 or :45): "
                "the stats are kept per quarter hour.",
                name,
            )
    if query.end <= query.start:
        raise UserInputError("EMPTY_PERIOD", "to must be later than from.", "to")
    if (query.end - query.start).days > MAX_DAYS:
        raise UserInputError(
            "PERIOD_TOO_LONG", f"A period may cover at most {MAX_DAYS} days.", "to"
        )
    if len(set(query.group_by)) != len(query.group_by):
        raise UserInputError("DUPLICATE_DIMENSION", "groupBy names a dimension twice.", "groupBy")
    return zone


async def delivery_stats(
    query: DeliveryStatsQuery, receipts: Callable[[str], bool]
) -> list[DeliveryStatsRow]:
    """The rows for `query`, sorted by their dimensions. `receipts(channel)`: whether the
    channel's providers report delivery receipts."""
    zone = check_query(query)
    flt = query.filter
    if any(v is not None and not v for v in vars(flt).values()):
        return []  # an empty filter list matches nothing
    dims = query.group_by
    by_message = StatsDimension.MESSAGE in dims or flt.message_ids is not None
    widths = (QUARTER,) if by_message else WIDTHS
    segments: list[tuple[int, int, int, int]] = []
    for day, lo, hi in _intervals(query, zone):
        segments.append((0, lo, hi, day))
        segments.extend((w, a, b, day) for w, a, b in _split(lo, hi, widths))
    postgres = is_postgres()
    sql, values = _statement(query, segments, postgres)
    _, found = await connections.get("default").execute_query(sql, values)
    if len(found) > MAX_SOURCE_ROWS:
        raise UserInputError(
            "TOO_MANY_ROWS",
            "The answer would have too many rows: narrow the period or the filter, or group "
            "by fewer dimensions.",
            None,
        )
    groups: dict[tuple, tuple[list[int], Decimal]] = {}
    by_day = StatsDimension.DAY in dims
    for row in found:
        day, category, channel, tier, reason, message, *counts = tuple(row)
        key = (
            date.fromordinal(day) if by_day else None,
            category,
            channel,
            tier,
            reason,
            uuid.UUID(message) if message else None,
            channel,
        )
        groups[key] = (counts[:-1], (Decimal(counts[-1]) / 10000).quantize(CENTS))
    return finish_rows(groups, dims, receipts)


WIDTHS = (86400, 3600, QUARTER)
TABLES = {86400: "stats_days", 3600: "stats_hours", QUARTER: "stats_quarters", 0: "stats_deltas"}
# Without tier and reason: for a query that neither groups nor filters by them.
LEAN = {**TABLES, 86400: "stats_days_lean", 3600: "stats_hours_lean"}
CENTS = Decimal("0.0001")
# Groups read before the channels are folded (StatsService answers at most 10,000 rows).
MAX_SOURCE_ROWS = 50_000
NAMES = ("d", "category", "channel", "tier", "reason", "message_id", *COUNTED)


def _intervals(query: DeliveryStatsQuery, zone: ZoneInfo) -> list[tuple[int, int, int]]:
    """(day ordinal, start, end) in epoch seconds: one per local day when DAY is grouped,
    else the whole period as day 0."""
    start, end = int(query.start.timestamp()), int(query.end.timestamp())
    if StatsDimension.DAY not in query.group_by:
        return [(0, start, end)]
    out = []
    day = query.start.astimezone(zone).date()
    while True:
        midnight = int(datetime.combine(day, time(), zone).timestamp())
        following = int(datetime.combine(day + timedelta(days=1), time(), zone).timestamp())
        lo, hi = max(start, midnight), min(end, following)
        if lo >= end:
            return out
        if lo < hi:
            out.append((day.toordinal(), lo, hi))
        day += timedelta(days=1)


def _split(lo: int, hi: int, widths: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """[lo, hi) as whole buckets, the widest that fit: (width, start, end) pieces."""
    if lo >= hi:
        return []
    width = widths[0]
    if len(widths) == 1:
        return [(width, lo, hi)]
    first, last = -(-lo // width) * width, hi // width * width
    if first >= last:
        return _split(lo, hi, widths[1:])
    return [*_split(lo, first, widths[1:]), (width, first, last), *_split(last, hi, widths[1:])]


def _statement(
    query: DeliveryStatsQuery, segments: list[tuple[int, int, int, int]], postgres: bool
) -> tuple[str, list[object]]:
    """One statement over every rollup level and the unfolded deltas."""
    dims = query.group_by
    flt = query.filter
    values: list[object] = []

    def mark(value: object) -> str:
        values.append(value)
        return f"${len(values)}" if postgres else "?"

    def pick(column: str, dim: StatsDimension) -> str:
        return f"r.{column}" if dim in dims else "''"

    message = "CAST(r.message_id AS TEXT)"
    lean = not ({StatsDimension.TIER, StatsDimension.REASON} & set(dims)) and (
        flt.tiers is None and flt.reasons is None
    )
    # One VALUES list per level, so the planner knows how many ranges each join reads
    # (one filtered list looked like a single range, and it scanned whole rollups per range).
    ctes = []
    for width in sorted({seg[0] for seg in segments}):
        rows = ", ".join(
            f"(CAST({a} AS BIGINT), CAST({b} AS BIGINT), CAST({d} AS BIGINT))"
            for w, a, b, d in segments
            if w == width
        )
        ctes.append(f"seg{width}(lo, hi, d) AS (VALUES {rows})")
    branches = []
    for width in sorted({s[0] for s in segments}):
        table = (LEAN if lean else TABLES)[width]
        has_message = width in (0, QUARTER)
        where = []
        for column, chosen in (
            ("r.category", flt.categories),
            ("r.channel", flt.channels),
            ("r.tier", None if flt.tiers is None else [t.value for t in flt.tiers]),
            ("r.reason", None if flt.reasons is None else [r.value for r in flt.reasons]),
            (message, None if flt.message_ids is None else [str(i) for i in flt.message_ids]),
        ):
            if chosen is not None:
                where.append(f"{column} IN ({', '.join(mark(v) for v in chosen)})")
        columns = [
            "s.d",
            pick("category", StatsDimension.CATEGORY),
            "r.channel",
            pick("tier", StatsDimension.TIER),
            pick("reason", StatsDimension.REASON),
            message if has_message and StatsDimension.MESSAGE in dims else "''",
            *(f"r.{c}" for c in COUNTED),
        ]
        named = ", ".join(f"{c} AS {n}" for c, n in zip(columns, NAMES, strict=True))
        branches.append(
            f"SELECT {named} FROM {table} r JOIN seg{width} s "
            f"ON r.bucket >= s.lo AND r.bucket < s.hi"
            + (f" WHERE {' AND '.join(where)}" if where else "")
        )
    sums = ", ".join(f"CAST(sum({c}) AS BIGINT)" for c in COUNTED)
    sql = (
        f"WITH {', '.join(ctes)} "
        f"SELECT d, category, channel, tier, reason, message_id, {sums} FROM ("
        + " UNION ALL ".join(branches)
        + ") x GROUP BY d, category, channel, tier, reason, message_id"
        # A group whose deliveries all moved away (in time, or deleted) sums to nothing.
        + " HAVING sum(attempted) <> 0"
        # Never more rows into memory than an answer may have (across the channels it folds).
        + f" LIMIT {MAX_SOURCE_ROWS + 1}"
    )
    return sql, values
