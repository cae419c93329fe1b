"""The delivery worker: claim due deliveries and released digests, and hand each claim to the
one delivery pipeline (re-check, prepare, send with failover, record, announce).

A round runs `concurrency` delivery loops at once (TIDINGS_WORKER_CONCURRENCY), each claiming
its own batch after the last: while one loop waits on the database (claim, load, record),
another is sending, so the providers' connections are not left idle between batches. Claims
stay disjoint (claims.py). Everything else a round does (expansion, digests, folding the
stats, the chores, the heartbeat) runs once per round, after the loops, one at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tidings.core.address_hash import AddressHasher
from tidings.core.audit.prune import AuditPruner
from tidings.core.delivery.breaker import BreakerOptions, Breakers, Clock
from tidings.core.delivery.bulk import RulesJson
from tidings.core.delivery.claims import (
    claim_digests,
    claim_due_rows,
    release_leases,
    renew_leases,
)
from tidings.core.delivery.expansion import expand_due
from tidings.core.delivery.overlap import expand_beside
from tidings.core.delivery.pipeline import DeliveryPipeline, OnChange
from tidings.core.delivery.registry import ProviderRegistry
from tidings.core.delivery.retry import RetryPolicy
from tidings.core.delivery.sandbox import TemplateSandbox
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.links import LinkSigner
from tidings.core.models.messages import Delivery
from tidings.core.rounds import run_rounds
from tidings.core.stats.fold import fold_deltas
from tidings.core.tracking import TrackingSigner

logger = logging.getLogger("tidings.delivery")


@dataclass
class WorkerOptions:
    batch_size: int = 100
    lease: timedelta = timedelta(seconds=120)
    idle_sleep: float = 0.5
    # Delivery loops per round, each claiming its own batch (TIDINGS_WORKER_CONCURRENCY).
    concurrency: int = 1
    # A busy round's loops stop claiming after this long, so the round's chores still run.
    round_seconds: float = 1.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerOptions = field(default_factory=BreakerOptions)


class DeliveryWorker:
    def __init__(
        self,
        registry: ProviderRegistry,
        tiers: TierPolicies,
        options: WorkerOptions | None = None,
        *,
        on_change: OnChange | None = None,
        clock: Clock = time.monotonic,
        templates: TemplateSandbox | None = None,
        links: LinkSigner | None = None,
        unsubscribe_mailto: str | None = None,
        tracking: TrackingSigner | None = None,
        hasher: AddressHasher | None = None,
        audit_pruner: AuditPruner | None = None,
        chores: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.registry = registry
        # Audit retention (TIDINGS_AUDIT_RETENTION_DAYS); None: entries are kept forever.
        self.audit_pruner = audit_pruner
        # Run each round after sending: due erasures, retention (core/services/retention.py).
        self.chores = chores
        # Finds suppressed addresses (core/delivery/suppressed.py); None: none are.
        self.hasher = hasher
        # Put preference and unsubscribe links into what providers are handed.
        self.links = links
        self.unsubscribe_mailto = unsubscribe_mailto
        self.tiers = tiers
        self.options = options or WorkerOptions()
        # This process's view of each provider's health (see breaker.py).
        self.breakers = Breakers(self.options.breaker, clock)
        self.pipeline = DeliveryPipeline(
            registry,
            tiers,
            self.options.retry,
            on_change,
            self.breakers,
            templates,
            links=links,
            unsubscribe_mailto=unsubscribe_mailto,
            tracking=tracking,
            hasher=hasher,
        )
        self.rules_json = RulesJson()  # for the deliveries tier expansion writes
        self.wakeup = asyncio.Event()
        # Digests are claimed by one caller at a time: two concurrent claims could split a
        # customer's held rows between them, and the customer would get two digests.
        self.digesting = asyncio.Lock()
        # Rows claimed by a round that was cut short (cancelled): `release` hands them back.
        self.held: set[uuid.UUID] = set()
        # Called after every round, for a liveness check (api/heartbeat.py); None: nothing.
        self.heartbeat: Callable[[], None] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; sleeps briefly when there is nothing due."""
        await self.registry.start()

        async def round_once() -> int:
            # Folding the stats' deltas is part of every round: it keeps the queries' share
            # of unfolded deltas small (core/stats/fold.py). Only one folder works at once.
            done = await self.expand_and_process(stop)
            done += await fold_deltas()
            done += await self.chores() if self.chores is not None else 0
            # Audit pruning: a pass an hour at most, a few batches a round, after the
            # deliveries (core/audit/prune.py); its failure is logged and never stops them.
            done += await self.audit_pruner.run_if_due() if self.audit_pruner else 0
            if self.heartbeat is not None:
                self.heartbeat()
            return done

        await run_rounds(round_once, stop, self.wakeup, self.options.idle_sleep, logger, "delivery")

    async def expand_and_process(self, stop: asyncio.Event | None = None) -> int:
        """A round's expansion and deliveries (`process_due`, for a round's time): one after
        the other with one delivery loop, side by side with more (core/delivery/overlap.py)."""
        seconds = self.options.round_seconds
        if self.options.concurrency < 2:
            done = await self.expand_once()
            return done + await self.process_due(stop=stop, seconds=seconds)
        return await expand_beside(
            lambda until, on_batch: self.expand_once(until=until, on_batch=on_batch),
            lambda left: self.process_due(stop=stop, seconds=left),
            seconds,
            stop,
        )

    async def expand_once(
        self,
        now: datetime | None = None,
        max_batches: int = 20,
        until: float | None = None,
        on_batch: Callable[[], None] | None = None,
    ) -> int:
        """Expand some batches of one due tier or scheduled send, holding the job for this
        worker's lease (TIDINGS_WORKER_LEASE_SECONDS). Returns how many deliveries it wrote.
        `until`: a `time.monotonic()` deadline after which no batch is begun; `on_batch`:
        called after each batch commits."""
        return await expand_due(
            self.tiers,
            now or datetime.now(UTC),
            self.options.lease,
            max_batches=max_batches,
            rules_json=self.rules_json,
            hasher=self.hasher,
            until=until,
            on_batch=on_batch,
        )

    async def run_once(self, now: datetime | None = None) -> int:
        """Claim and process one batch, then the released digests. Returns how many
        deliveries it handled."""
        now = now or datetime.now(UTC)
        await self.registry.start()
        rows = await claim_due_rows(now, self.options.batch_size, self.options.lease)
        handled = await self._process(rows, now) if rows else 0
        return handled + await self.run_digests(now)  # held digests are due on idle rounds too

    async def process_due(
        self,
        now: datetime | None = None,
        *,
        stop: asyncio.Event | None = None,
        seconds: float | None = None,
    ) -> int:
        """Run up to `concurrency` delivery loops at once, each claiming and processing a
        batch after another until nothing is due, `stop` is set or (given `seconds`) that
        long has passed; the others join only when the first loop's first claim was a full
        batch. Then release the digests that are due. Returns how many deliveries it
        handled. A loop's failure is raised once every loop has ended; the rows it held keep
        their lease, as a crashed worker's would."""
        await self.registry.start()
        until = None if seconds is None else time.monotonic() + seconds

        # The first loop's first claim says whether the others have work: an idle round
        # costs one claim, not one per loop.
        first_claimed = asyncio.Event()
        busy = False

        async def loop(n: int) -> int:
            nonlocal busy
            if n:
                await first_claimed.wait()
                if not busy:
                    return 0
            handled = 0
            try:
                while not (stop is not None and stop.is_set()):
                    if until is not None and time.monotonic() >= until:
                        break
                    at = now or datetime.now(UTC)
                    rows = await claim_due_rows(at, self.options.batch_size, self.options.lease)
                    if not first_claimed.is_set():
                        busy = len(rows) == self.options.batch_size
                        first_claimed.set()
                    if not rows:
                        break
                    handled += await self._process(rows, at)
            finally:
                first_claimed.set()  # a loop that failed or stopped first frees the others
            return handled

        loops = [
            asyncio.create_task(loop(n), name=f"tidings-delivery-{n}")
            for n in range(self.options.concurrency)
        ]
        results = await asyncio.gather(*loops, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        handled = sum(r for r in results if isinstance(r, int))
        if stop is not None and stop.is_set():
            return handled
        return handled + await self.run_digests(now or datetime.now(UTC))

    async def drain(self) -> int:
        """Process until nothing is due, deliveries or digests, through the loops `run` uses
        (without the round's other chores). Returns how many deliveries it handled."""
        handled = 0
        while done := await self.process_due():
            handled += done
        return handled

    async def _process(self, rows: Sequence[Delivery], now: datetime) -> int:
        # In creation order (the claim sorts them), so a customer's in-app notifications are
        # stored as sent.
        async with self.holding([row.id for row in rows]):
            await self.pipeline.run(rows, now)
        return len(rows)

    async def run_digests(self, now: datetime) -> int:
        """Release held digest deliveries whose period ended: one combined message per
        customer × channel, after every rule but the digest is checked again."""
        async with self.digesting:
            return await self._run_digests(now)

    async def _run_digests(self, now: datetime) -> int:
        limit = self.options.batch_size * 5
        ids = await claim_digests(now, limit, self.options.lease)
        if not ids:
            return 0
        rows = await Delivery.filter(id__in=ids).order_by("customer_id", "channel", "id")
        if len(ids) == limit:
            # The claim may have cut the last customer's held rows in two: hand that group
            # back, whole, to the next round, so each customer gets one digest.
            last = (rows[-1].customer_id, rows[-1].channel)
            tail = [r for r in rows if (r.customer_id, r.channel) == last]
            if len(tail) < len(rows):
                await Delivery.filter(id__in=[r.id for r in tail]).update(locked_until=None)
                rows = rows[: len(rows) - len(tail)]
        async with self.holding([r.id for r in rows]):
            await self.pipeline.run(rows, now, digest=True)
        return len(rows)

    @contextlib.asynccontextmanager
    async def holding(self, ids: Sequence[uuid.UUID]) -> AsyncIterator[None]:
        """Renew the lease on the rows in hand every half lease while the pipeline works on
        them, so a slow batch (a slow relay, a heavy template) is not claimed by another
        worker and sent twice. Rows already recorded have no lease and are left alone. When
        the round is cancelled (a shutdown's deadline), the rows stay in `held` for `release`;
        after any other failure they keep their lease, as a crashed worker's would."""
        lease = self.options.lease

        async def renew() -> None:
            while True:
                await asyncio.sleep(lease.total_seconds() / 2)
                try:
                    await renew_leases(ids, datetime.now(UTC) + lease)
                except Exception:  # the next renewal tries again; the round goes on
                    logger.exception("renewing the delivery lease failed")

        task = asyncio.create_task(renew(), name="tidings-lease")
        self.held.update(ids)
        cancelled = False
        try:
            yield
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if not cancelled:
                self.held.difference_update(ids)

    async def release(self) -> int:
        """Give back the rows of rounds cut short, so another worker takes them at once
        rather than when their lease runs out. Returns how many were still waiting."""
        ids, self.held = list(self.held), set()
        return await release_leases(ids)
