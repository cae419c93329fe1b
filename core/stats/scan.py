"""The delivery stats computed from the deliveries themselves, row by row, in Python.

This is the definition the rollups are held to: the property test (tests/stats) compares
`delivery_stats` with it on random histories, and nothing else uses it. It reads every
delivery in the period, so it is only for tests and small databases.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from tidings.core.enums import DeliveryStatus, StatsDimension
from tidings.core.models.messages import Delivery, Message
from tidings.core.stats.rows import (
    COUNTS,
    QUARTER,
    DeliveryStatsQuery,
    DeliveryStatsRow,
    contribution,
    finish_rows,
)
from tidings.core.stats.triggers import WATCHED


async def scan_delivery_stats(
    query: DeliveryStatsQuery, receipts: Callable[[str], bool]
) -> list[DeliveryStatsRow]:
    """What `core/stats/query.py` answers from the rollups, from a scan instead."""
    dims = query.group_by
    flt = query.filter
    zone = ZoneInfo(query.timezone)
    categories = dict(await Message.all().values_list("id", "category"))
    found = await Delivery.filter(
        created_at__gte=query.start, created_at__lt=query.end
    ).values_list(*WATCHED)
    groups: dict[tuple, tuple[list[int], Decimal]] = {}
    for message_id, channel, tier, reason, status, created, *facts in found:
        category = categories[message_id]
        if flt.categories is not None and category not in flt.categories:
            continue
        if flt.channels is not None and channel not in flt.channels:
            continue
        if flt.tiers is not None and tier not in {t.value for t in flt.tiers}:
            continue
        if flt.message_ids is not None and message_id not in flt.message_ids:
            continue
        if flt.reasons is not None and reason not in {r.value for r in flt.reasons}:
            continue
        counts, money = contribution(DeliveryStatus(status), *facts)
        bucket = int(created.timestamp()) // QUARTER * QUARTER
        day = datetime.fromtimestamp(bucket, UTC).astimezone(zone).date()
        key = (
            day if StatsDimension.DAY in dims else None,
            category if StatsDimension.CATEGORY in dims else None,
            channel,
            tier if StatsDimension.TIER in dims else None,
            reason if StatsDimension.REASON in dims else None,
            message_id if StatsDimension.MESSAGE in dims else None,
            channel,
        )
        total, revenue = groups.get(key, ([0] * len(COUNTS), Decimal(0)))
        groups[key] = ([a + b for a, b in zip(total, counts, strict=True)], revenue + money)
    return finish_rows(groups, dims, receipts)
