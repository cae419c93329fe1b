"""Expanding an audience into deliveries in batches, by keyset over customer ids.

A tier may hold millions of customers: each batch loads its customers' policy inputs with a
few queries, decides in memory, and writes its deliveries in bulk together with the job's new
cursor, in one transaction. A worker that dies mid-job leaves the cursor where the last batch
committed, so the next worker neither skips nor repeats anyone.

The sender's right is checked again before each batch (`senders.sender_right`): a scheduled
send may wait days, and whoever made it may lose the right in between. The customers it may
no longer send to get their deliveries SUPPRESSED with SENDER_NOT_ALLOWED instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from tidings.core.address_hash import AddressHasher
from tidings.core.audit import record
from tidings.core.delivery.bulk import RulesJson, write_decided
from tidings.core.delivery.claims import is_postgres
from tidings.core.delivery.deciding import category_rule, decide_deliveries
from tidings.core.delivery.recipients import load_recipients
from tidings.core.delivery.senders import sender_right
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.enums import DeliveryReason, DeliveryStatus, MessageStatus, RuleVerdict
from tidings.core.models import Category, Customer
from tidings.core.models.messages import Delivery, ExpansionJob, Message
from tidings.core.policy import Decision, RuleOutcome, channels_for

BATCH = 1000
LEASE = timedelta(seconds=120)  # the default: a worker passes its TIDINGS_WORKER_LEASE_SECONDS

_CLAIM_PG = """
UPDATE expansion_jobs SET locked_until = $1
WHERE id = (
    SELECT id FROM expansion_jobs
    WHERE done = FALSE AND (due_at IS NULL OR due_at <= $2)
      AND (locked_until IS NULL OR locked_until < $2)
    ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING id
"""


async def _claim(now: datetime, lease: timedelta) -> uuid.UUID | None:
    if is_postgres():
        rows = await connections.get("default").execute_query_dict(_CLAIM_PG, [now + lease, now])
        return uuid.UUID(str(rows[0]["id"])) if rows else None
    job = (
        await ExpansionJob.filter(
            Q(done=False),
            Q(due_at__isnull=True) | Q(due_at__lte=now),
            Q(locked_until__isnull=True) | Q(locked_until__lt=now),
        )
        .order_by("created_at")
        .first()
    )
    if job is None:
        return None
    job.locked_until = now + lease
    await job.save(update_fields=["locked_until"])
    return job.id


@dataclass(frozen=True)
class _Batch:
    """One batch read and decided, ready to write: its customer ids in keyset order, the
    decisions, and each decided customer's tier."""

    ids: list[uuid.UUID]
    decided: list[tuple[uuid.UUID, Decision]]
    tiers: dict[uuid.UUID, str]


async def expand_due(
    tiers: TierPolicies,
    now: datetime,
    lease: timedelta = LEASE,
    max_batches: int = 20,
    rules_json: RulesJson | None = None,
    hasher: AddressHasher | None = None,
    until: float | None = None,
    on_batch: Callable[[], None] | None = None,
) -> int:
    """Expand up to `max_batches` batches of one due job, holding it for `lease` after each
    batch; with `until` (a `time.monotonic()` deadline), no batch is begun after it. Returns
    how many deliveries it wrote. `hasher` finds suppressed addresses; `on_batch` is called
    after each batch commits.

    The next batch is read and decided while this one is written: its customers come after
    this batch's last id, so nothing this batch writes can change its inputs. The read runs
    on a connection of its own (the task starts outside the write's transaction) and is
    cancelled if the write fails; only a written batch moves the cursor."""
    rules_json = rules_json or RulesJson()
    job_id = await _claim(now, lease)
    if job_id is None:
        return 0
    job = await ExpansionJob.get(id=job_id)
    message = await Message.get(id=job.message_id)
    category = await Category.filter(key=message.category).first()

    def prepare(cursor: uuid.UUID | None) -> asyncio.Task[_Batch]:
        return asyncio.ensure_future(_prepare(job, message, category, cursor, tiers, hasher))

    written = 0
    upcoming = prepare(job.cursor)
    try:
        for number in range(max_batches):
            batch = await upcoming
            ids = batch.ids
            done = len(ids) < BATCH or category is None
            more = not done and number + 1 < max_batches
            if more and until is not None and time.monotonic() >= until:
                more = False
            if more:
                upcoming = prepare(ids[-1])
            async with in_transaction():
                written += await write_decided(message.id, batch.decided, rules_json, batch.tiers)
                job.cursor = ids[-1] if ids else job.cursor
                job.done = done
                job.locked_until = None if job.done else datetime.now(UTC) + lease
                await job.save(update_fields=["cursor", "done", "locked_until", "updated_at"])
                if job.done:
                    await Message.filter(id=message.id).update(status=MessageStatus.EXPANDED)
                    # A tier's (or a scheduled send's) size is known only now.
                    size = await Delivery.filter(message_id=message.id).count()
                    await record(
                        "message.expand",
                        actor="system",
                        targets={"message": str(message.id)},
                        detail={"category": message.category, "size": size},
                    )
            if on_batch is not None:
                on_batch()
            if not more:
                break
        if not job.done:  # stopped by max_batches or the deadline: another round goes on
            await ExpansionJob.filter(id=job.id).update(locked_until=None)
    finally:
        if not upcoming.done():
            upcoming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upcoming
    return written


async def _prepare(
    job: ExpansionJob,
    message: Message,
    category: Category | None,
    cursor: uuid.UUID | None,
    tiers: TierPolicies,
    hasher: AddressHasher | None,
) -> _Batch:
    """The batch after `cursor`: read, with the sender's right as it is now, and decided."""
    ids = await _next_ids(job, message, cursor)
    if not ids or category is None:
        return _Batch(ids, [], {})
    right = await sender_right(message.created_by)
    allowed = [i for i in ids if right.allows(i)]
    refused = [i for i in ids if not right.allows(i)]
    now = datetime.now(UTC)
    decided, tiers_now = await decide_deliveries(message, category, allowed, tiers, now, hasher)
    decided += await _refused(message, category, refused, right.refusal, now, tiers_now)
    return _Batch(ids, decided, tiers_now)


async def _next_ids(
    job: ExpansionJob, message: Message, cursor: uuid.UUID | None
) -> list[uuid.UUID]:
    if job.tier is not None:
        query = Customer.filter(tier=job.tier)
    else:
        listed = [uuid.UUID(value) for value in message.audience.get("customerIds", [])]
        query = Customer.filter(id__in=listed)
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    return list(await query.order_by("id").limit(BATCH).values_list("id", flat=True))


async def _refused(
    message: Message,
    category: Category,
    customer_ids: list[uuid.UUID],
    refusal: str,
    now: datetime,
    tiers_now: dict[uuid.UUID, str],
) -> list[tuple[uuid.UUID, Decision]]:
    """A SUPPRESSED delivery per refused customer on each channel a send would have decided,
    saying why, so that nothing is dropped silently. Notes each one's tier in `tiers_now`."""
    if not customer_ids:
        return []
    rule = category_rule(category)
    recipients = await load_recipients(customer_ids, category.key, now)
    requested = tuple(message.channels) if message.channels else None
    decided: list[tuple[uuid.UUID, Decision]] = []
    for customer_id in customer_ids:
        recipient = recipients.get(customer_id)
        if recipient is None:
            continue  # erased between the request and now
        tiers_now[customer_id] = recipient.tier.value
        for channel in channels_for(rule, recipient, requested):
            stop = RuleOutcome(
                DeliveryReason.SENDER_NOT_ALLOWED, RuleVerdict.STOP, refusal, channel
            )
            decided.append(
                (
                    customer_id,
                    Decision(
                        channel,
                        DeliveryStatus.SUPPRESSED,
                        DeliveryReason.SENDER_NOT_ALLOWED,
                        None,
                        (stop,),
                    ),
                )
            )
    return decided
