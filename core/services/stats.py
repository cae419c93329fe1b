"""Delivery and consent stats for staff: ADMIN, MARKETER and AUDITOR read them; AGENT and
customers do not. No row names a customer, and groups smaller than TIDINGS_STATS_MIN_GROUP
are gathered into one "other" row (core/stats/privacy.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from tidings.core.enums import Role
from tidings.core.errors import ForbiddenError, UserInputError
from tidings.core.stats.consent import check_consent_dimensions, consent_stats
from tidings.core.stats.privacy import fold_consent_rows, fold_delivery_rows
from tidings.core.stats.query import delivery_stats
from tidings.core.stats.rows import (
    ConsentStatsQuery,
    ConsentStatsRow,
    DeliveryStatsQuery,
    DeliveryStatsRow,
)
from tidings.core.viewer import Viewer

STATS_ROLES = (Role.ADMIN, Role.MARKETER, Role.AUDITOR)
MAX_DIMENSIONS = 6
MAX_FILTER_VALUES = 100
MAX_ROWS = 10_000
FILTER_FIELDS = {
    "categories": "categories",
    "channels": "channels",
    "tiers": "tiers",
    "message_ids": "messageIds",
    "reasons": "reasons",
}


class StatsService:
    def __init__(self, receipts: Callable[[str], bool], min_group: int = 1) -> None:
        """`receipts(channel)`: whether a provider of the channel reports delivery receipts.
        `min_group`: TIDINGS_STATS_MIN_GROUP."""
        self.receipts = receipts
        self.min_group = min_group

    def _check(self, viewer: Viewer) -> None:
        if not viewer.has_role(*STATS_ROLES):
            raise ForbiddenError("Only ADMIN, MARKETER and AUDITOR read the stats.")

    async def delivery_stats(
        self, viewer: Viewer, query: DeliveryStatsQuery
    ) -> list[DeliveryStatsRow]:
        self._check(viewer)
        _check_dimensions(query.group_by)
        for name, label in FILTER_FIELDS.items():
            values = getattr(query.filter, name)
            if values is not None and len(values) > MAX_FILTER_VALUES:
                raise UserInputError(
                    "TOO_MANY_VALUES",
                    f"filter.{label} may list at most {MAX_FILTER_VALUES} values.",
                    f"filter.{label}",
                )
        rows = fold_delivery_rows(await delivery_stats(query, self.receipts), self.min_group)
        return _bounded(rows)

    async def consent_stats(
        self, viewer: Viewer, query: ConsentStatsQuery
    ) -> list[ConsentStatsRow]:
        self._check(viewer)
        _check_dimensions(query.group_by)
        check_consent_dimensions(query.group_by)
        return _bounded(fold_consent_rows(await consent_stats(query), self.min_group))


def _check_dimensions(group_by: Sequence[object]) -> None:
    if len(group_by) > MAX_DIMENSIONS:
        raise UserInputError(
            "TOO_MANY_DIMENSIONS", f"groupBy may name at most {MAX_DIMENSIONS}.", "groupBy"
        )


T = TypeVar("T")


def _bounded(rows: list[T]) -> list[T]:
    if len(rows) > MAX_ROWS:
        raise UserInputError(
            "TOO_MANY_ROWS",
            f"The answer would have more than {MAX_ROWS} rows: narrow the period or the "
            "filter, or group by fewer dimensions.",
            None,
        )
    return rows
