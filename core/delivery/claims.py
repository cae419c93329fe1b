"""Claiming due deliveries: a lease per row, disjoint between concurrent workers.

On PostgreSQL the claim is `FOR UPDATE SKIP LOCKED`, so any number of workers take disjoint
rows. On SQLite one in-process worker claims (writes are serialised anyway). A worker that dies
leaves its rows leased; when the lease runs out another worker claims them again — delivery is
at least once, and each delivery's stable id keeps providers from sending twice. A live
worker renews the lease of the rows it still holds (`renew_leases`), so only a dead or stuck
one lets its rows go; a worker stopping with rows still in hand gives them back at once
(`release_leases`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.transactions import in_transaction

from tidings.core.enums import DeliveryStatus
from tidings.core.models.messages import Delivery

# Two traps of prepared statements, whose generic plan is fixed after five runs, typically
# while the queue is empty:
# - as `WHERE id IN (subquery)` the plan may run the `LIMIT ... SKIP LOCKED` subquery once
#   per outer row, claiming far past the limit; `= ANY(ARRAY(subquery))` runs it once;
# - as a join (a CTE), the plan may scan the whole table once per claimed row (4.9 s for
#   1,000 of 30,000 rows). So each claim is planned for its own parameters.
CLAIM_SESSION = "SET LOCAL plan_cache_mode = force_custom_plan"
_PG = """
UPDATE deliveries SET locked_until = $1, attempts = attempts + 1, updated_at = $2
WHERE id = ANY(ARRAY(
    SELECT id FROM deliveries
    WHERE status IN ('QUEUED', 'DEFERRED') AND reason IS DISTINCT FROM 'DIGEST'
      AND (not_before IS NULL OR not_before <= $2)
      AND (locked_until IS NULL OR locked_until < $2)
    ORDER BY not_before NULLS FIRST, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
))
RETURNING id
"""

_SQLITE = """
UPDATE deliveries SET locked_until = ?, attempts = attempts + 1, updated_at = ?
WHERE id IN (
    SELECT id FROM deliveries
    WHERE status IN ('QUEUED', 'DEFERRED') AND (reason IS NULL OR reason != 'DIGEST')
      AND (not_before IS NULL OR not_before <= ?)
      AND (locked_until IS NULL OR locked_until < ?)
    ORDER BY not_before IS NOT NULL, not_before, id
    LIMIT ?
)
RETURNING id
"""

_PG_ROWS = _PG.replace("RETURNING id", "RETURNING *")
_SQLITE_ROWS = _SQLITE.replace("RETURNING id", "RETURNING *")


def is_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


async def claim_due(now: datetime, limit: int, lease: timedelta) -> list[uuid.UUID]:
    """Lease up to `limit` due rows (QUEUED, or DEFERRED whose time has come, digests aside)."""
    rows = await _claim_due(now, limit, lease, _PG, _SQLITE)
    return [uuid.UUID(str(row["id"])) for row in rows]


async def claim_due_rows(now: datetime, limit: int, lease: timedelta) -> list[Delivery]:
    """`claim_due`, the claimed rows whole (as the claim left them) and in id order: the
    claim's RETURNING saves the worker loading them again."""
    rows = await _claim_due(now, limit, lease, _PG_ROWS, _SQLITE_ROWS)
    # As tortoise builds a model from a SELECT's row: the same columns, the same conversions.
    claimed = [Delivery._init_from_db(**row) for row in rows]
    claimed.sort(key=lambda d: d.id)
    return claimed


async def _claim_due(
    now: datetime, limit: int, lease: timedelta, pg_sql: str, sqlite_sql: str
) -> list[dict]:
    until = now + lease
    if is_postgres():
        return await _claim_pg(pg_sql, [until, now, limit])
    iso = _sqlite_time
    return await connections.get("default").execute_query_dict(
        sqlite_sql, [iso(until), iso(now), iso(now), iso(now), limit]
    )


async def _claim_pg(sql: str, values: list) -> list[dict]:
    async with in_transaction() as conn:
        await conn.execute_script(CLAIM_SESSION)
        return await conn.execute_query_dict(sql, values)


def _sqlite_time(value: datetime) -> str:
    """How tortoise stores datetimes in SQLite, so comparisons in SQL order correctly."""
    return value.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")


_PG_DIGESTS = """
UPDATE deliveries SET locked_until = $1, updated_at = $2
WHERE id = ANY(ARRAY(
    SELECT id FROM deliveries
    WHERE status = 'DEFERRED' AND reason = 'DIGEST' AND not_before <= $2
      AND (locked_until IS NULL OR locked_until < $2)
    ORDER BY customer_id, channel, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
))
RETURNING id
"""

_SQLITE_DIGESTS = """
UPDATE deliveries SET locked_until = ?, updated_at = ?
WHERE id IN (
    SELECT id FROM deliveries
    WHERE status = 'DEFERRED' AND reason = 'DIGEST' AND not_before <= ?
      AND (locked_until IS NULL OR locked_until < ?)
    ORDER BY customer_id, channel, id
    LIMIT ?
)
RETURNING id
"""


async def claim_digests(now: datetime, limit: int, lease: timedelta) -> list[uuid.UUID]:
    """Lease held digest deliveries whose period has ended."""
    conn = connections.get("default")
    until = now + lease
    if is_postgres():
        rows = await _claim_pg(_PG_DIGESTS, [until, now, limit])
    else:
        iso = _sqlite_time
        rows = await conn.execute_query_dict(
            _SQLITE_DIGESTS, [iso(until), iso(now), iso(now), iso(now), limit]
        )
    return [uuid.UUID(str(row["id"])) for row in rows]


async def renew_leases(ids: Sequence[uuid.UUID], until: datetime) -> int:
    """Extend the lease of rows a worker still holds (those not yet recorded: recording clears
    `locked_until`). Returns how many it extended."""
    if not ids:
        return 0
    return await Delivery.filter(id__in=list(ids), locked_until__not_isnull=True).update(
        locked_until=until
    )


async def release_leases(ids: Sequence[uuid.UUID]) -> int:
    """Hand rows a stopping worker still holds back to the queue at once, rather than after
    their lease runs out. Only rows still waiting (QUEUED or DEFERRED, leased) are touched: a
    row recorded meanwhile has no lease. `attempts` keeps the claim's count, since the
    provider may have been handed the row before the worker stopped. Returns how many."""
    if not ids:
        return 0
    return await Delivery.filter(
        id__in=list(ids),
        locked_until__not_isnull=True,
        status__in=[DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED],
    ).update(locked_until=None)
