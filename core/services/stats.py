"""Delivery and consent stats for staff: ADMIN, MARKETER and AUDITOR read them; AGENT and
customers do not. No row names a customer, and groups smaller than TIDINGS_STATS_MIN_GROUP
are gathered into one "other" row (core/stats/privacy.py)."""

from __future__ import annotations

from collections.abc import Callable

from tidings.core.enums import Role
from tidings.core.errors import ForbiddenError
from tidings.core.stats.consent import consent_stats
from tidings.core.stats.query import delivery_stats
from tidings.core.stats.rows import (
    ConsentStatsQuery,
    ConsentStatsRow,
    DeliveryStatsQuery,
    DeliveryStatsRow,
)
from tidings.core.viewer import Viewer

STATS_ROLES = (Role.ADMIN, Role.MARKETER, Role.AUDITOR)


class StatsService:
    def __init__(self, receipts: Callable[[str], bool], min_group: int = 1) -> None:
        self.receipts = receipts
        self.min_group = min_group

    def _check(self, viewer: Viewer) -> None:
        if not viewer.has_role(*STATS_ROLES):
            raise ForbiddenError("Only ADMIN, MARKETER and AUDITOR read the stats.")

    async def delivery_stats(
        self, viewer: Viewer, query: DeliveryStatsQuery
    ) -> list[DeliveryStatsRow]:
        self._check(viewer)
        return await delivery_stats(query, self.receipts)

    async def consent_stats(
        self, viewer: Viewer, query: ConsentStatsQuery
    ) -> list[ConsentStatsRow]:
        self._check(viewer)
        return await consent_stats(query)
