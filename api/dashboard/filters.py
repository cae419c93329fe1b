"""The dashboard's filters, from the page's GET query: a period (`days`, a preset of 7, 30 or
90 days ending today; else `from`/`to` dates, both included), and at most one category, channel and
tier. Days are UTC days. A value that does not parse is dropped, with a notice, and the
default used instead: a filter never makes the page fail."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from tidings.core.enums import Tier
from tidings.core.stats.rows import MAX_DAYS, StatsFilter

PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Filters:
    first_day: date
    last_day: date  # included
    preset: int | None = None
    category: str | None = None
    channel: str | None = None
    tier: Tier | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(), UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(), UTC)

    @property
    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(count)]

    def stats_filter(self) -> StatsFilter:
        return StatsFilter(
            categories=(self.category,) if self.category else None,
            channels=(self.channel,) if self.channel else None,
            tiers=(self.tier,) if self.tier else None,
        )

    def query(self, lang: str | None = None) -> str:
        """The query string that gives these filters back (for links and the CSV)."""
        params: dict[str, str] = {"lang": lang} if lang else {}
        if self.preset:
            params["days"] = str(self.preset)
        else:
            params["from"] = self.first_day.isoformat()
            params["to"] = self.last_day.isoformat()
        for name, value in (("category", self.category), ("channel", self.channel)):
            if value:
                params[name] = value
        if self.tier:
            params["tier"] = self.tier.value
        return urlencode(params)


def parse_filters(
    params: Mapping[str, str],
    categories: Collection[str],
    channels: Collection[str],
    today: date,
) -> Filters:
    """Filters from the query parameters; unknown values become problems, not errors."""
    problems: list[str] = []
    preset: int | None = DEFAULT_DAYS
    first = last = None
    days = params.get("days", "")
    if days in {str(n) for n in PRESETS}:
        preset = int(days)
    elif params.get("from") or params.get("to"):
        try:
            first = date.fromisoformat(params.get("from", ""))
            last = date.fromisoformat(params.get("to", ""))
        except ValueError:
            problems.append("period")
        else:
            if last < first or (last - first).days >= MAX_DAYS:
                problems.append("period")
                first = last = None
            else:
                preset = None
    elif days:
        problems.append("period")
    if preset is not None or first is None or last is None:
        preset = preset or DEFAULT_DAYS
        last = today
        first = today - timedelta(days=preset - 1)

    def pick(name: str, known: Collection[str]) -> str | None:
        value = params.get(name) or None
        if value is not None and value not in known:
            problems.append(name)
            return None
        return value

    category = pick("category", categories)
    channel = pick("channel", channels)
    tier_name = pick("tier", [t.value for t in Tier])
    return Filters(
        first_day=first,
        last_day=last,
        preset=preset,
        category=category,
        channel=channel,
        tier=Tier(tier_name) if tier_name else None,
        problems=tuple(problems),
    )
