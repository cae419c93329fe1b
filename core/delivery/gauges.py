"""Delivery figures for a metrics scrape, read from the database in two statements.

Both are exact whichever process asks (the API, a worker), because they read shared state:

- deliveries by channel, status and reason: the stats rollups (core/models/stats.py) summed
  over all time, `stats_days` plus the deltas not yet folded into it. The trigger on
  `deliveries` keeps them exact, so this costs one row per day × category × channel × tier ×
  reason ever seen, never a scan of the deliveries;
- the queue: rows a worker could claim (the claim's own condition, core/delivery/claims.py),
  per channel, read through the index the claim uses; it costs what the backlog holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise import connections

from tidings.core.delivery.claims import is_postgres

# The rollups' counted columns this reads, in this order (core/stats/rows.py COUNTS).
DELIVERIES_SQL = """
SELECT channel, reason, CAST(sum(attempted) AS BIGINT), CAST(sum(suppressed) AS BIGINT),
  CAST(sum(deferred) AS BIGINT), CAST(sum(sent) AS BIGINT), CAST(sum(unconfirmed) AS BIGINT),
  CAST(sum(failed) AS BIGINT), CAST(sum(bounced) AS BIGINT), CAST(sum(complained) AS BIGINT)
FROM (
  SELECT channel, reason, attempted, suppressed, deferred, sent, unconfirmed, failed, bounced,
    complained FROM stats_days
  UNION ALL
  SELECT channel, reason, attempted, suppressed, deferred, sent, unconfirmed, failed, bounced,
    complained FROM stats_deltas
) x
GROUP BY channel, reason
"""

# Claimable: the claim's condition (QUEUED or DEFERRED, not a held digest); "due" when its
# time has come, "claimed" while a worker's lease on it runs.
_QUEUE = """
SELECT channel,
  sum(CASE WHEN due AND NOT leased THEN 1 ELSE 0 END),
  sum(CASE WHEN leased THEN 1 ELSE 0 END),
  sum(CASE WHEN due THEN 0 ELSE 1 END),
  min(CASE WHEN due AND NOT leased THEN since END)
FROM (
  SELECT channel,
    (not_before IS NULL OR not_before <= {now}) AS due,
    (locked_until IS NOT NULL AND locked_until >= {now}) AS leased,
    COALESCE(not_before, created_at) AS since
  FROM deliveries
  WHERE status IN ('QUEUED', 'DEFERRED') AND {not_digest}
) q
GROUP BY channel
"""
QUEUE_PG = _QUEUE.format(now="$1", not_digest="reason IS DISTINCT FROM 'DIGEST'")
QUEUE_SQLITE = _QUEUE.format(now="?", not_digest="(reason IS NULL OR reason != 'DIGEST')")


@dataclass(frozen=True)
class DeliveryCount:
    """Deliveries ever created on `channel` that now stand at `status` (a lower-case
    DeliveryStatus, "delivered" meaning confirmed as the stats count it), with `reason`
    ("" for none)."""

    channel: str
    status: str
    reason: str
    count: int


@dataclass(frozen=True)
class QueueFigures:
    """One channel's claimable deliveries: `due` (waiting for a worker), `claimed` (leased
    by one now), `scheduled` (their time has not come: quiet hours, a retry's backoff), and
    the seconds the longest-waiting due one has been due."""

    channel: str
    due: int
    claimed: int
    scheduled: int
    oldest_due_seconds: float


def delivery_counts(rows: Sequence[Sequence[object]]) -> list[DeliveryCount]:
    """The rollups' overlapping counts made a partition by status: each delivery in one. A
    group (channel × reason) that ever had a delivery gives every status, zeros included."""
    out = []
    for row in rows:
        channel, reason = str(row[0]), str(row[1] or "")
        attempted, suppressed, deferred, sent, unconfirmed, failed, bounced, complained = (
            int(v or 0) for v in row[2:]
        )
        # "sent" counts every status past sending; "unconfirmed" those no receipt or
        # engagement has confirmed yet (core/stats/rows.py).
        delivered = sent - unconfirmed - bounced - complained
        rest = attempted - suppressed - deferred - sent - failed
        figures = {
            "suppressed": suppressed,
            "deferred": deferred,
            "sent": unconfirmed,
            "delivered": delivered,
            "failed": failed,
            "bounced": bounced,
            "complained": complained,
            # What is neither: waiting for a worker, or stopped by an erasure (ERASED).
            "queued": 0 if reason == "ERASED" else rest,
            "cancelled": rest if reason == "ERASED" else 0,
        }
        # Zeros too: a status a group's deliveries all left reads 0, rather than a series
        # that vanishes (which `delta()` could not see fall). Bounded: nine per group.
        out.extend(DeliveryCount(channel, status, reason, n) for status, n in figures.items())
    return out


async def read_delivery_counts() -> list[DeliveryCount]:
    _, rows = await connections.get("default").execute_query(DELIVERIES_SQL)
    return delivery_counts([tuple(r) for r in rows])


def _moment(value: object) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def read_queue(now: datetime | None = None) -> list[QueueFigures]:
    now = now or datetime.now(UTC)
    postgres = is_postgres()
    sql, values = (QUEUE_PG, [now]) if postgres else (QUEUE_SQLITE, [now, now])
    _, rows = await connections.get("default").execute_query(sql, values)
    out = []
    for row in rows:
        channel, due, claimed, scheduled, oldest = tuple(row)
        since = _moment(oldest)
        age = max(0.0, (now - since).total_seconds()) if since is not None else 0.0
        figures = QueueFigures(
            str(channel), int(due or 0), int(claimed or 0), int(scheduled or 0), age
        )
        out.append(figures)
    return out
