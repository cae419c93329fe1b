"""Claiming due deliveries: a lease per row, disjoint between concurrent workers.

On PostgreSQL the claim is `FOR UPDATE SKIP LOCKED`, so any number of workers take disjoint
rows. On SQLite one in-process worker claims (writes are serialised anyway). A worker that dies
leaves its rows leased; when the lease runs out another worker claims them again — delivery is
at least once, and each delivery's stable id keeps providers from sending twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tortoise import connections

from tidings.core.models.enums import DeliveryStatus

CLAIMABLE = (DeliveryStatus.QUEUED.value, DeliveryStatus.DEFERRED.value)

# The rows are picked once, in a materialised CTE: as `WHERE id IN (subquery)` a generic plan
# may run the `LIMIT ... SKIP LOCKED` subquery once per outer row and claim far past the limit.
_PG = """
WITH picked AS MATERIALIZED (
    SELECT id FROM deliveries
    WHERE status IN ('QUEUED', 'DEFERRED') AND reason IS DISTINCT FROM 'DIGEST'
      AND (not_before IS NULL OR not_before <= $2)
      AND (locked_until IS NULL OR locked_until < $2)
    ORDER BY not_before NULLS FIRST, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE deliveries AS d SET locked_until = $1, attempts = d.attempts + 1, updated_at = $2
FROM picked WHERE d.id = picked.id
RETURNING d.id
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


def is_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


async def claim_due(now: datetime, limit: int, lease: timedelta) -> list[uuid.UUID]:
    """Lease up to `limit` due rows (QUEUED, or DEFERRED whose time has come, digests aside)."""
    conn = connections.get("default")
    until = now + lease
    if is_postgres():
        rows = await conn.execute_query_dict(_PG, [until, now, limit])
    else:
        iso = _sqlite_time
        rows = await conn.execute_query_dict(
            _SQLITE, [iso(until), iso(now), iso(now), iso(now), limit]
        )
    return [uuid.UUID(str(row["id"])) for row in rows]


def _sqlite_time(value: datetime) -> str:
    """How tortoise stores datetimes in SQLite, so comparisons in SQL order correctly."""
    return value.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")


_PG_DIGESTS = """
WITH picked AS MATERIALIZED (
    SELECT id FROM deliveries
    WHERE status = 'DEFERRED' AND reason = 'DIGEST' AND not_before <= $2
      AND (locked_until IS NULL OR locked_until < $2)
    ORDER BY customer_id, channel, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE deliveries AS d SET locked_until = $1, updated_at = $2
FROM picked WHERE d.id = picked.id
RETURNING d.id
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
        rows = await conn.execute_query_dict(_PG_DIGESTS, [until, now, limit])
    else:
        iso = _sqlite_time
        rows = await conn.execute_query_dict(
            _SQLITE_DIGESTS, [iso(until), iso(now), iso(now), iso(now), limit]
        )
    return [uuid.UUID(str(row["id"])) for row in rows]
