"""Wall-clock arithmetic in a customer's timezone: quiet-hour windows, digest times and the
local day. DST is handled once, here, by one question: at which instant does the customer's
clock first read a given wall time?"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tidings.core.enums import Frequency

_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


@lru_cache(maxsize=2048)
def parse_clock(value: str) -> time:
    """A "HH:MM" (24-hour) wall time; ValueError otherwise, so bad data fails where it is built."""
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"a wall time must be HH:MM on a 24-hour clock, not {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


@lru_cache(maxsize=1024)
def zone_for(name: str) -> tzinfo:
    """The IANA zone, or UTC when the name is unknown: timezones are validated when a customer
    is saved, and one bad row must not stop a fan-out of a million deliveries."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return UTC


def as_utc(moment: datetime) -> datetime:
    """An aware datetime in UTC. A naive one is read as UTC: SQLite hands back naive values."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _wall(instant: datetime, zone: tzinfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def first_instant(wall: datetime, zone: tzinfo) -> datetime:
    """The first instant (UTC) at which the clock in `zone` reads `wall` or later.

    An ordinary wall time has one instant. In a fall-back overlap it has two, and the window
    it bounds begins or ends at the first. In a spring-forward gap it has none: the clock
    jumps past it, so the answer is the instant of the jump (02:30 on the day New York skips
    from 02:00 to 03:00 gives 03:00 EDT). Clock time, not elapsed time, is what a customer
    means by "quiet until 08:00".
    """
    early = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(early, zone) == wall:
        return early  # exists; fold=0 is the earlier of two in an overlap
    late = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo_instant, hi_instant = sorted((early, late))
    if _wall(hi_instant, zone) < wall:
        return hi_instant  # not a gap we understand; the later reading is the safe side
    # Transitions fall on whole seconds: search them. wall(lo) < wall <= wall(hi).
    lo = math.floor(lo_instant.timestamp())
    hi = math.ceil(hi_instant.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), zone) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def local_day_bounds(timezone: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the customer's local day containing `now`, for counting what
    was sent "today". A day may be 23 or 25 hours long; one starting in a gap starts at the
    jump."""
    zone = zone_for(timezone)
    now = as_utc(now)
    day = now.astimezone(zone).date()
    start = first_instant(datetime.combine(day, time()), zone)
    end = first_instant(datetime.combine(day + timedelta(days=1), time()), zone)
    if now >= end:  # a fall-back across midnight: the clock reads yesterday once more
        start, end = end, first_instant(datetime.combine(day + timedelta(days=2), time()), zone)
    elif now < start:
        end, start = start, first_instant(datetime.combine(day - timedelta(days=1), time()), zone)
    return start, end


@lru_cache(maxsize=4096)  # a fan-out decides many customers of one zone at one `now`
def quiet_hours_end(start: time, end: time, zone: tzinfo, now: datetime) -> datetime | None:
    """The end (UTC) of the quiet hours `now` is in, or None when outside them.

    Quiet means the customer's clock reads inside [start, end); when `end` < `start` the
    window crosses midnight (22:00-08:00). Reading the clock is the customer's own test, so an
    hour repeated at fall-back is quiet both times round. The end is the next instant the
    clock reads `end`; when the clock skips it (spring forward), the instant of the jump.
    """
    if start == end:
        return None
    moment = now
    for _ in range(3):  # a jump may land inside the window again (a skipped day)
        target = _quiet_until(start, end, moment.astimezone(zone).replace(tzinfo=None))
        if target is None:
            break
        moment = _next_reading(target, zone, moment)
    return None if moment == now else moment


def _quiet_until(start: time, end: time, local: datetime) -> datetime | None:
    """The wall time the window `local` is in ends at, or None when `local` is outside."""
    reading = local.time()
    if start < end:
        return datetime.combine(local.date(), end) if start <= reading < end else None
    if reading >= start:
        return datetime.combine(local.date() + timedelta(days=1), end)
    if reading < end:
        return datetime.combine(local.date(), end)
    return None


def _next_reading(wall: datetime, zone: tzinfo, after: datetime) -> datetime:
    """The first instant after `after` at which the clock reads `wall` (or jumps past it)."""
    first = first_instant(wall, zone)
    if first > after:
        return first
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if second > after and _wall(second, zone) == wall:
        return second  # the repeated hour, second time round
    return after + timedelta(seconds=1)  # pragma: no cover - wall is always ahead of `after`


@lru_cache(maxsize=4096)  # a fan-out decides many customers of one zone at one `now`
def next_digest(
    frequency: Frequency, hour: int, weekday: int, zone: tzinfo, now: datetime
) -> datetime:
    """The next digest time (UTC) strictly after `now`: the next local `hour`:00, and for a
    weekly digest the next such hour on `weekday` (Monday is 0, as `date.weekday()`)."""
    local_day = now.astimezone(zone).date()
    for shift in range(10):
        day: date = local_day + timedelta(days=shift)
        if frequency == Frequency.WEEKLY_DIGEST and day.weekday() != weekday:
            continue
        at = first_instant(datetime.combine(day, time(hour)), zone)
        if at > now:
            return at
    raise AssertionError("unreachable: a digest hour falls within ten days")  # pragma: no cover
