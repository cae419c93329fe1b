"""The dashboard's tables: each one the data of a chart, its accessible HTML table, its CSV
download and (for the latest messages) its live JSON. Cells are plain values: str, int,
float (a rate, 0..1) or None (a rate whose denominator is 0)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tidings.core.enums import StatsDimension
from tidings.core.models import Message
from tidings.core.services.stats import StatsService
from tidings.core.stats.rows import (
    QUARTER,
    ConsentStatsQuery,
    ConsentStatsRow,
    DeliveryStatsQuery,
    DeliveryStatsRow,
)
from tidings.core.viewer import Viewer

from .filters import Filters

Cell = str | int | float | None

FUNNEL = ("attempted", "sent", "delivered", "opened", "clicked", "converted")
DAILY_RATES = ("delivery_rate", "open_rate", "click_rate", "conversion_rate")
DAILY = (
    "day",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "converted",
    "unsubscribed",
    "complained",
    *DAILY_RATES,
    "unsubscribe_rate",
    "complaint_rate",
)
CONSENT = (
    "category",
    "channel",
    "customers",
    "granted",
    "withdrawn",
    "expired",
    "pending",
    "never_asked",
    "reachable",
    "expiring_soon",
    "opt_in_rate",
)
MESSAGES = (
    "message",
    "category",
    "created_at",
    "attempted",
    "sent",
    "delivered",
    "failed",
    "opened",
    "clicked",
)
LATEST = 10  # messages in the live table
RECENT = timedelta(days=7)  # how far back the live table looks
OTHER = "other"  # the row that gathers the groups too small to show (the stats' minimum group)
TABLES = ("funnel", "daily", "consent", "messages")
UNSAFE_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Table:
    name: str
    columns: tuple[str, ...]
    rows: list[dict[str, Cell]]

    def csv(self) -> str:
        """RFC 4180 CSV (with a BOM, so spreadsheets read UTF-8); a text cell that a
        spreadsheet would take for a formula is prefixed with an apostrophe."""
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow([_csv_cell(row.get(column)) for column in self.columns])
        return out.getvalue()


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(UNSAFE_START) else value
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _label(value: str | None, other: bool) -> str:
    return OTHER if other else (value or "")


def funnel_table(rows: Iterable[DeliveryStatsRow]) -> Table:
    out = []
    for row in rows:
        cells: dict[str, Cell] = {"category": _label(row.category, row.other)}
        cells.update({name: getattr(row, name) for name in FUNNEL})
        for rate in DAILY_RATES:
            cells[rate] = getattr(row, rate)
        out.append(cells)
    return Table("funnel", ("category", *FUNNEL, *DAILY_RATES), out)


def daily_table(rows: Iterable[DeliveryStatsRow], days: Sequence[date]) -> Table:
    """One row per day of the period, days without deliveries included (counts 0)."""
    by_day: dict[date, DeliveryStatsRow] = {}
    for row in rows:
        if row.day is None:
            continue
        found = by_day.setdefault(row.day, DeliveryStatsRow(day=row.day))
        found.add(row)  # the "other" row of a day joins the day's total
    out = []
    for day in days:
        row = by_day.get(day, DeliveryStatsRow(day=day))
        cells: dict[str, Cell] = {"day": day.isoformat()}
        cells.update({name: getattr(row, name) for name in DAILY[1:]})
        out.append(cells)
    return Table("daily", DAILY, out)


def consent_table(rows: Iterable[ConsentStatsRow], filters: Filters) -> Table:
    """Category × channel; the tier filter picks the tier's rows (grouped by tier too)."""
    merged: dict[tuple[str, str], ConsentStatsRow] = {}
    for row in rows:
        if filters.tier is not None and (row.other or row.tier is not filters.tier):
            continue
        category = _label(row.category, row.other)
        channel = _label(row.channel, row.other)
        if (filters.category and category != filters.category) or (
            filters.channel and channel != filters.channel
        ):
            continue
        merged[(category, channel)] = row
    out = []
    for (category, channel), row in sorted(merged.items()):
        cells: dict[str, Cell] = {"category": category, "channel": channel}
        cells.update({name: getattr(row, name) for name in CONSENT[2:]})
        out.append(cells)
    return Table("consent", CONSENT, out)


def messages_table(rows: Iterable[DeliveryStatsRow], messages: dict[uuid.UUID, Message]) -> Table:
    """The latest messages first, at most LATEST."""
    found = [(messages[r.message_id], r) for r in rows if r.message_id in messages]
    found.sort(key=lambda pair: (pair[0].created_at, str(pair[0].id)), reverse=True)
    out = []
    for message, row in found[:LATEST]:
        cells: dict[str, Cell] = {
            "message": str(message.id),
            "category": message.category,
            "created_at": message.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        }
        cells.update({name: getattr(row, name) for name in MESSAGES[3:]})
        out.append(cells)
    return Table("messages", MESSAGES, out)


def _quarter_after(moment: datetime) -> datetime:
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % QUARTER + QUARTER, UTC)


class DashboardData:
    """Asks the stats service for what each table shows, as the signed-in viewer."""

    def __init__(self, stats: StatsService) -> None:
        self.stats = stats

    async def _delivery(
        self, viewer: Viewer, filters: Filters, *dims: StatsDimension
    ) -> list[DeliveryStatsRow]:
        query = DeliveryStatsQuery(filters.start, filters.end, dims, filters.stats_filter())
        return await self.stats.delivery_stats(viewer, query)

    async def funnel(self, viewer: Viewer, filters: Filters) -> Table:
        return funnel_table(await self._delivery(viewer, filters, StatsDimension.CATEGORY))

    async def daily(self, viewer: Viewer, filters: Filters) -> Table:
        rows = await self._delivery(viewer, filters, StatsDimension.DAY)
        return daily_table(rows, filters.days)

    async def consent(self, viewer: Viewer, filters: Filters) -> Table:
        dims = (StatsDimension.CATEGORY, StatsDimension.CHANNEL)
        if filters.tier is not None:
            dims = (*dims, StatsDimension.TIER)
        now = datetime.now(UTC)
        query = ConsentStatsQuery(group_by=dims, as_of=now, since=filters.start)
        return consent_table(await self.stats.consent_stats(viewer, query), filters)

    async def messages(self, viewer: Viewer, filters: Filters) -> Table:
        """The latest messages of the last RECENT, under the category, channel and tier
        filters (not the period: this table follows what is being sent now)."""
        end = _quarter_after(datetime.now(UTC))
        query = DeliveryStatsQuery(
            end - RECENT, end, (StatsDimension.MESSAGE,), filters.stats_filter()
        )
        rows = [r for r in await self.stats.delivery_stats(viewer, query) if not r.other]
        ids = [r.message_id for r in rows if r.message_id is not None]
        messages = {m.id: m for m in await Message.filter(id__in=ids)} if ids else {}
        return messages_table(rows, messages)

    async def table(self, name: str, viewer: Viewer, filters: Filters) -> Table:
        return await getattr(self, name)(viewer, filters)
