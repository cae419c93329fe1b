"""`deliveryStats` answered from the rollups (core/models/stats.py), never a scan of the
deliveries: rollup rows and the deltas not yet folded, read in one statement."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tidings.core.errors import UserInputError
from tidings.core.stats.rows import MAX_DAYS, QUARTER, DeliveryStatsQuery, DeliveryStatsRow


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
    check_query(query)
    from tidings.core.stats.scan import scan_delivery_stats  # until the rollups answer

    return await scan_delivery_stats(query, receipts)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)
