"""Retention (TIDINGS_RETENTION_DAYS): deliveries, their events and inbox notifications older
than that are deleted, in small batches, each its own short transaction.

The analytics do not move. The stats triggers (core/stats/triggers.py) log a negative delta
for every deleted delivery; in the same transaction as the DELETE, the batch first logs the
deleted rows' contributions as a positive delta (the same SQL the triggers use), so the two
cancel and `deliveryStats` answers as before. The same counts go to `stats_pruned`, which
`tidings stats rebuild` adds to what it counts from the deliveries left.

Sending is never stopped: only final deliveries are pruned (never QUEUED or DEFERRED ones,
which workers claim), and on PostgreSQL a batch skips rows another transaction holds
(`FOR UPDATE SKIP LOCKED`), so a feedback update on an old row just delays its pruning.
Rendered content is not kept on deliveries (it is rendered when sent), so there is none to
prune.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.transactions import in_transaction

from tidings.core.audit import record
from tidings.core.enums import DeliveryStatus
from tidings.core.models import Delivery, DeliveryEvent, Notification
from tidings.core.services.erasure import ErasureService
from tidings.core.stats.triggers import COLUMNS, KEY, contributions_sql

BATCH = 500
BATCHES_PER_ROUND = 20  # the worker's share of one round; the rest waits for the next
HOURLY = timedelta(hours=1)
LIVE = (DeliveryStatus.QUEUED.value, DeliveryStatus.DEFERRED.value)


@dataclass(frozen=True)
class PruneResult:
    deliveries: int = 0
    delivery_events: int = 0
    notifications: int = 0

    @property
    def total(self) -> int:
        return self.deliveries + self.delivery_events + self.notifications


def _postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


async def _prune_delivery_batch(cutoff: datetime, batch: int) -> tuple[int, int]:
    """One batch of old final deliveries: their stats kept, their events and rows deleted."""
    postgres = _postgres()
    async with in_transaction() as conn:
        if postgres:
            _, rows = await conn.execute_query(
                "SELECT id FROM deliveries WHERE created_at < $1 AND status <> ALL($2::text[]) "
                "ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED",
                [cutoff, list(LIVE), batch],
            )
            ids = [uuid.UUID(str(r["id"])) for r in rows]
        else:
            ids = list(
                await Delivery.filter(created_at__lt=cutoff)
                .exclude(status__in=list(LIVE))
                .order_by("id")
                .limit(batch)
                .values_list("id", flat=True)
            )
        if not ids:
            return 0, 0
        sums = ", ".join(f"sum({c})" for c in COLUMNS[len(KEY) :])
        select = contributions_sql("postgres" if postgres else "sqlite")
        if postgres:
            where, params = "WHERE d.id = ANY($1::uuid[])", [ids]
        else:
            where = f"WHERE d.id IN ({', '.join('?' * len(ids))})"
            params = [str(i) for i in ids]
        # Only fixed column names and placeholders are interpolated.
        counts = (
            f"SELECT {', '.join(KEY)}, {sums} FROM ({select} {where}) c "  # noqa: S608
            f"GROUP BY {', '.join(KEY)}"
        )
        for table in ("stats_deltas", "stats_pruned"):
            await conn.execute_query(f"INSERT INTO {table} ({', '.join(COLUMNS)}) {counts}", params)
        events = await DeliveryEvent.filter(delivery_id__in=ids).delete()
        await Delivery.filter(id__in=ids).delete()
        return len(ids), events


async def _prune_notification_batch(cutoff: datetime, batch: int) -> int:
    async with in_transaction():
        ids = list(
            await Notification.filter(created_at__lt=cutoff)
            .order_by("id")
            .limit(batch)
            .values_list("id", flat=True)
        )
        if ids:
            await Notification.filter(id__in=ids).delete()
        return len(ids)


async def prune(
    days: int, now: datetime | None = None, batch: int = BATCH, max_batches: int | None = None
) -> PruneResult:
    """Delete what is older than `days`. `max_batches` bounds each kind's batches (the
    worker's share of a round); None: until nothing old is left."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    deliveries = events = notifications = 0
    done = 0
    while max_batches is None or done < max_batches:
        pruned, pruned_events = await _prune_delivery_batch(cutoff, batch)
        deliveries += pruned
        events += pruned_events
        done += 1
        if pruned < batch:
            break
    done = 0
    while max_batches is None or done < max_batches:
        pruned = await _prune_notification_batch(cutoff, batch)
        notifications += pruned
        done += 1
        if pruned < batch:
            break
    result = PruneResult(deliveries, events, notifications)
    if result.total:
        await record(
            "retention.prune",
            actor="system",
            detail={
                "days": days,
                "before": cutoff.isoformat(),
                "deliveries": deliveries,
                "deliveryEvents": events,
                "notifications": notifications,
            },
        )
    return result


class DataUpkeep:
    """The worker's data-rights chores, each round: erasures whose grace period ended (and any
    a crash left half done), and retention pruning at most once an hour per process."""

    def __init__(
        self, erasure: ErasureService, retention_days: int | None, every: timedelta = HOURLY
    ) -> None:
        self.erasure = erasure
        self.retention_days = retention_days
        self.every = every
        self._pruned_at: datetime | None = None

    async def run_once(self, now: datetime | None = None) -> int:
        """Returns how much it did (0: nothing, so the worker may nap)."""
        now = now or datetime.now(UTC)
        done = await self.erasure.run_due(now)
        if self.retention_days is not None and (
            self._pruned_at is None or now - self._pruned_at >= self.every
        ):
            self._pruned_at = now
            result = await prune(self.retention_days, now, max_batches=BATCHES_PER_ROUND)
            if result.deliveries == BATCH * BATCHES_PER_ROUND:
                self._pruned_at = None  # more is left: go on next round
            done += result.total
        return done
