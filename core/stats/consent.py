"""`consentStats`: where permission stood at `as_of`, per category × channel × tier.

What is counted is customer × category × channel pairs: every customer (created by
`as_of`) with every MARKETING category (created by `as_of`) on each of the category's
default channels, and besides those every pair the consent ledger holds an entry for by
`as_of` (a grant on another channel, or on a transactional category). A pair's state is
the newest ledger entry recorded by `as_of` (the ledger is append-only, so this is the
state as it stood then), read as the policy engine reads it: GRANTED past its expiry is
EXPIRED. What the ledger does not keep a history of is current: the customer's tier and
whether it has an address (email, phone, a device) for the channel. Erased customers are
not counted at all: their ledger stays as proof, not as an audience.

Three statements whatever the size: the categories, the counts (set-based, grouped by
category, channel and tier in SQL), and the withdrawals in [since, as_of) by source.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tortoise import connections

from tidings.core.enums import CategoryKind, StatsDimension, Tier
from tidings.core.errors import UserInputError
from tidings.core.models import Category
from tidings.core.stats.privacy import add_consent
from tidings.core.stats.rows import MAX_DAYS, ConsentStatsQuery, ConsentStatsRow

CONSENT_DIMENSIONS = (StatsDimension.CATEGORY, StatsDimension.CHANNEL, StatsDimension.TIER)
EXPIRING_WINDOW = timedelta(days=30)
DEFAULT_PERIOD = timedelta(days=30)  # `since` when not given: the 30 days before as_of

_STATES = """
ranked AS (
  SELECT customer_id, category, channel, status, expires_at,
         ROW_NUMBER() OVER (PARTITION BY customer_id, category, channel
                            ORDER BY recorded_at DESC, id DESC) AS newest
  FROM permission_entries WHERE recorded_at <= ?
),
latest AS (
  SELECT customer_id, category, channel, status, expires_at FROM ranked WHERE newest = 1
)"""

# Whether the customer has an address on the pair's channel: core/delivery/addresses.py's
# rule (built-in channels read the columns, any other channel a non-empty string attribute),
# through the plain columns encryption keeps beside them (blind indexes, address keys).
_ADDRESSED = """CASE
  WHEN u.channel = 'email' THEN CASE WHEN c.email_index IS NOT NULL THEN 1 ELSE 0 END
  WHEN u.channel = 'sms' THEN CASE WHEN c.phone_index IS NOT NULL THEN 1 ELSE 0 END
  WHEN u.channel = 'in_app' THEN 1
  WHEN u.channel = 'push' THEN
    CASE WHEN EXISTS (SELECT 1 FROM devices d WHERE d.customer_id = c.id) THEN 1 ELSE 0 END
  WHEN {attribute} THEN 1 ELSE 0 END"""
# Attributes are encrypted: `address_keys` names those holding a non-empty string.
_PG_ATTRIBUTE = "COALESCE(jsonb_exists(c.address_keys, u.channel), FALSE)"
_SQLITE_ATTRIBUTE = (
    "EXISTS (SELECT 1 FROM json_each(COALESCE(c.address_keys, '[]')) k WHERE k.value = u.channel)"
)

_UNIVERSE = """pairs(category, channel) AS (VALUES {listed}),
universe AS (
  SELECT c.id AS customer_id, p.category, p.channel
  FROM customers c CROSS JOIN pairs p WHERE c.created_at <= ? AND c.erasure_started_at IS NULL
  UNION
  SELECT customer_id, category, channel FROM latest
)"""

_COUNTS = """
marked AS (
  SELECT u.category, u.channel, c.tier,
    CASE WHEN s.status = 'GRANTED' AND (s.expires_at IS NULL OR s.expires_at > ?)
         THEN 1 ELSE 0 END AS granted,
    CASE WHEN s.status = 'WITHDRAWN' THEN 1 ELSE 0 END AS withdrawn,
    CASE WHEN s.status = 'EXPIRED' OR (s.status = 'GRANTED' AND s.expires_at <= ?)
         THEN 1 ELSE 0 END AS expired,
    CASE WHEN s.status = 'PENDING' THEN 1 ELSE 0 END AS pending,
    CASE WHEN s.status IS NULL THEN 1 ELSE 0 END AS never_asked,
    CASE WHEN s.status = 'GRANTED' AND s.expires_at > ? AND s.expires_at <= ?
         THEN 1 ELSE 0 END AS expiring,
    {addressed} AS addressed
  FROM universe u
  JOIN customers c ON c.id = u.customer_id AND c.erasure_started_at IS NULL
  LEFT JOIN latest s
    ON s.customer_id = u.customer_id AND s.category = u.category AND s.channel = u.channel
)
SELECT category, channel, tier, COUNT(*), SUM(granted), SUM(granted * addressed),
       SUM(withdrawn), SUM(expired), SUM(pending), SUM(never_asked), SUM(expiring)
FROM marked GROUP BY category, channel, tier"""

_WITHDRAWALS = """
SELECT e.category, e.channel, c.tier, e.source, COUNT(*)
FROM permission_entries e JOIN customers c ON c.id = e.customer_id
WHERE e.status = 'WITHDRAWN' AND e.recorded_at >= ? AND e.recorded_at < ?
GROUP BY e.category, e.channel, c.tier, e.source"""

_COLUMNS = (
    "customers",
    "granted",
    "reachable",
    "withdrawn",
    "expired",
    "pending",
    "never_asked",
    "expiring_soon",
)


def consent_query(
    group_by: tuple[StatsDimension, ...],
    as_of: datetime | None = None,
    since: datetime | None = None,
) -> ConsentStatsQuery:
    """A checked query: `as_of` defaults to now, `since` to the 30 days before `as_of`."""
    check_consent_dimensions(group_by)
    for name, value in (("asOf", as_of), ("since", since)):
        if value is not None and value.tzinfo is None:
            raise UserInputError("NAIVE_DATETIME", f"{name} must carry its UTC offset.", name)
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    since = (since or as_of - DEFAULT_PERIOD).astimezone(UTC)
    if since >= as_of:
        raise UserInputError("EMPTY_PERIOD", "since must be earlier than asOf.", "since")
    if (as_of - since).days > MAX_DAYS:
        raise UserInputError(
            "PERIOD_TOO_LONG", f"since may be at most {MAX_DAYS} days before asOf.", "since"
        )
    return ConsentStatsQuery(group_by=group_by, as_of=as_of, since=since)


def check_consent_dimensions(group_by: tuple[StatsDimension, ...]) -> None:
    """CATEGORY, CHANNEL and TIER only (consent has no day, message or reason), each once."""
    for dimension in group_by:
        if dimension not in CONSENT_DIMENSIONS:
            raise UserInputError(
                "UNSUPPORTED_DIMENSION",
                f"consentStats groups by CATEGORY, CHANNEL and TIER only, not {dimension.value}.",
                "groupBy",
            )
    if len(set(group_by)) != len(group_by):
        raise UserInputError("DUPLICATE_DIMENSION", "groupBy names a dimension twice.", "groupBy")


async def consent_stats(query: ConsentStatsQuery) -> list[ConsentStatsRow]:
    """The rows for `query`, one per group, sorted by their dimensions (before any fold)."""
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    at = _time(query.as_of, postgres)
    soon = _time(query.as_of + EXPIRING_WINDOW, postgres)
    pairs = sorted(
        (key, channel)
        for key, channels, created in await Category.filter(
            kind=CategoryKind.MARKETING
        ).values_list("key", "default_channels", "created_at")
        if created <= query.as_of
        for channel in set(channels or ())
    )
    values: list[object] = [at]
    if pairs:
        listed = ", ".join("(CAST(? AS TEXT), CAST(? AS TEXT))" for _ in pairs)
        # Only placeholders are formatted in; the values travel as parameters.
        universe = _UNIVERSE.format(listed=listed)
        values += [v for pair in pairs for v in pair] + [at]
    else:
        universe = "universe AS (SELECT customer_id, category, channel FROM latest)"
    addressed = _ADDRESSED.format(attribute=_PG_ATTRIBUTE if postgres else _SQLITE_ATTRIBUTE)
    sql = f"WITH {_STATES},\n{universe},{_COUNTS.format(addressed=addressed)}"
    values += [at, at, at, soon]
    found = (await conn.execute_query(_numbered(sql, postgres), values))[1]
    withdrawals = (
        await conn.execute_query(
            _numbered(_WITHDRAWALS, postgres), [_time(query.since, postgres), at]
        )
    )[1]
    return _group(query.group_by, found, withdrawals)


def _group(
    dims: tuple[StatsDimension, ...], found: list, withdrawals: list
) -> list[ConsentStatsRow]:
    rows: dict[tuple, ConsentStatsRow] = {}

    def row_for(category: str, channel: str, tier: str) -> ConsentStatsRow:
        part = ConsentStatsRow(
            category=category if StatsDimension.CATEGORY in dims else None,
            channel=channel if StatsDimension.CHANNEL in dims else None,
            tier=Tier(tier) if StatsDimension.TIER in dims else None,
        )
        key = (part.category, part.channel, part.tier)
        return rows.setdefault(key, part)

    for category, channel, tier, *counts in (tuple(r) for r in found):
        part = ConsentStatsRow(**dict(zip(_COLUMNS, (int(n or 0) for n in counts), strict=True)))
        add_consent(row_for(category, channel, tier), part)
    for category, channel, tier, source, count in (tuple(r) for r in withdrawals):
        total = row_for(category, channel, tier).withdrawals
        total[source] = total.get(source, 0) + int(count)
    return sorted(
        rows.values(), key=lambda r: tuple(str(v or "") for v in (r.category, r.channel, r.tier))
    )


def _numbered(sql: str, postgres: bool) -> str:
    """`?` placeholders as asyncpg's `$1, $2, ...` on PostgreSQL."""
    if not postgres:
        return sql
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


def _time(value: datetime, postgres: bool) -> datetime | str:
    """A datetime parameter: as is for asyncpg, as tortoise stores it for SQLite (text)."""
    utc = value.astimezone(UTC)
    return utc if postgres else utc.isoformat(sep=" ", timespec="microseconds")
