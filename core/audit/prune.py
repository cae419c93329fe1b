"""Retention: removing the oldest entries behind a signed checkpoint.

Each batch is one transaction, under the appenders' lock (core/audit/log.py): it deletes a
prefix of the chain (entries older than the cutoff, by id, stopping at the first newer one),
writes a checkpoint naming the last deleted entry, drops the checkpoints that one supersedes,
and records the pruning itself as `audit.prune`. A crash leaves either all of that or none.
The newest entry is never deleted, so an appender always finds its predecessor and the chain
never restarts at GENESIS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.transactions import in_transaction

from tidings.core.audit.checkpoints import CheckpointSigner
from tidings.core.audit.log import AUDIT_LOCK, record
from tidings.core.models import AuditCheckpoint, AuditEntry

logger = logging.getLogger("tidings.audit")


@dataclass(frozen=True)
class Pruned:
    """What a run removed: how many entries, through which id (None: nothing)."""

    count: int = 0
    through: int | None = None
    done: bool = True  # False: older entries remain (the run stopped at `max_batches`)


async def _prune_batch(signer: CheckpointSigner, cutoff: datetime, batch_size: int) -> Pruned:
    async with in_transaction() as conn:
        if connections.get("default").capabilities.dialect == "postgres":
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [AUDIT_LOCK])
        newest = await AuditEntry.all().order_by("-id").limit(1).values_list("id", flat=True)
        if not newest:
            return Pruned()
        rows = (
            await AuditEntry.filter(id__lt=newest[0])
            .order_by("id")
            .limit(batch_size)
            .values_list("id", "at", "hash")
        )
        # A prefix only: `at` is taken just before the lock, so it may step back a little.
        old = []
        for row in rows:
            if row[1] >= cutoff:
                break
            old.append(row)
        if not old:
            return Pruned()
        through, through_hash = old[-1][0], old[-1][2]
        await AuditEntry.filter(id__lte=through).delete()
        await AuditCheckpoint.create(
            entry_id=through,
            entry_hash=through_hash,
            signature=signer.sign(through, through_hash),
        )
        await AuditCheckpoint.filter(entry_id__lt=through).delete()
        await record("audit.prune", actor="system", detail={"through": through, "count": len(old)})
        done = len(old) < len(rows) or len(rows) < batch_size
        return Pruned(len(old), through, done)


async def prune_entries(
    secret_key: str,
    older_than: timedelta,
    *,
    now: datetime | None = None,
    batch_size: int = 5000,
    max_batches: int | None = None,
) -> Pruned:
    """Delete entries older than `older_than`, oldest first, a batch per transaction; stop
    after `max_batches` (None: when none are left)."""
    signer = CheckpointSigner(secret_key)
    cutoff = (now or datetime.now(UTC)) - older_than
    count, through, batches = 0, None, 0
    while max_batches is None or batches < max_batches:
        pruned = await _prune_batch(signer, cutoff, batch_size)
        batches += 1
        count += pruned.count
        through = pruned.through or through
        if pruned.done:
            return Pruned(count, through, True)
    return Pruned(count, through, False)


class AuditPruner:
    """The worker's pruning: a full pass at most once per `interval`, a few batches per round
    so a first pass over a large log does not hold up deliveries."""

    def __init__(
        self,
        secret_key: str,
        retention: timedelta,
        *,
        interval: timedelta = timedelta(hours=1),
        batches_per_round: int = 4,
        batch_size: int = 5000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_key = secret_key
        self.retention = retention
        self.interval = interval
        self.batches_per_round = batches_per_round
        self.batch_size = batch_size
        self._clock = clock
        self._last_pass: float | None = None

    def __repr__(self) -> str:
        return f"<AuditPruner retention={self.retention}>"

    async def run_if_due(self) -> int:
        """Prune some batches when a pass is due; returns how many entries went."""
        now = self._clock()
        if self._last_pass is not None and now - self._last_pass < self.interval.total_seconds():
            return 0
        try:
            pruned = await prune_entries(
                self._secret_key,
                self.retention,
                batch_size=self.batch_size,
                max_batches=self.batches_per_round,
            )
        except Exception:  # logged; the next pass is an interval away, deliveries go on
            logger.exception("pruning the audit log failed")
            self._last_pass = now
            return 0
        if pruned.done:
            self._last_pass = now
        if pruned.count:
            logger.info("pruned %d audit entries through %s", pruned.count, pruned.through)
        return pruned.count
