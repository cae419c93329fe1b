"""A worker's concurrent delivery loops (TIDINGS_WORKER_CONCURRENCY): disjoint claims, so no
delivery reaches the relay twice; digests released by one caller at a time; and the round's
chores once per round, never beside themselves. Sends are counted at a real local SMTP server
(aiosmtpd)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from datetime import UTC, datetime, timedelta

from tests.delivery.support import (
    create_category,
    held_digests,
    rows,
    send,
)
from tidings.core.delivery.claims import claim_due_rows
from tidings.core.delivery.worker import WorkerOptions
from tidings.core.enums import DeliveryStatus, Role
from tidings.core.ids import new_id
from tidings.core.models import Customer
from tidings.core.models.messages import Delivery
from tidings.schema.ids import to_global_id

CUSTOMERS = 40


async def queued_email(api, count: int) -> list[Delivery]:
    """`count` QUEUED email deliveries, one per new customer, in one send."""
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "orders", "TRANSACTIONAL", defaultChannels=["email"])
    made = [
        Customer(id=new_id(), external_id=f"c-{n}", email=f"c{n}-{secrets.token_hex(3)}@ex.com")
        for n in range(count)
    ]
    await Customer.bulk_create(made)
    message = await send(
        api, admin, "orders", {"customerIds": [to_global_id("Customer", c.id) for c in made]}
    )
    found = await rows(message)
    assert len(found) == count and {r.status for r in found} == {DeliveryStatus.QUEUED}
    return found


async def test_loops_claim_disjoint_batches_and_send_each_delivery_once(mail_api, smtp):
    queued = await queued_email(mail_api, CUSTOMERS)
    worker = mail_api.runtime.worker
    worker.options = WorkerOptions(batch_size=3, concurrency=4)

    assert await worker.drain() == CUSTOMERS

    by_id = Counter(m.message["Message-ID"] for m in smtp.received)
    assert len(by_id) == CUSTOMERS and set(by_id.values()) == {1}
    after = await Delivery.filter(id__in=[r.id for r in queued])
    # Each row was claimed exactly once: a second claim would have counted a second attempt.
    assert {(r.status, r.attempts, r.locked_until) for r in after} == {
        (DeliveryStatus.SENT, 1, None)
    }
    assert worker.held == set()


async def test_a_stopped_round_claims_nothing(mail_api, smtp):
    queued = await queued_email(mail_api, 5)
    worker = mail_api.runtime.worker
    worker.options = WorkerOptions(batch_size=2, concurrency=2)
    stop = asyncio.Event()
    stop.set()

    assert await worker.process_due(stop=stop) == 0
    assert smtp.received == []
    after = await Delivery.filter(id__in=[r.id for r in queued])
    assert {(r.status, r.attempts) for r in after} == {(DeliveryStatus.QUEUED, 0)}


async def test_digest_runs_at_once_never_split_a_customer(mail_api, smtp):
    """Two callers releasing digests together: without one at a time, the second would claim
    the rest of a customer the first's claim cut through, and send it as a second digest."""
    api = mail_api
    held, row = await held_digests(api)
    assert (row.status, row.reason) == (DeliveryStatus.DEFERRED, "DIGEST")

    worker = api.runtime.worker
    worker.options = WorkerOptions(batch_size=1, concurrency=2)  # a digest claim takes 5 at most
    due = row.not_before + timedelta(seconds=1)
    await asyncio.gather(worker.run_digests(due), worker.run_digests(due))
    await worker.run_digests(due)

    assert sorted(m.rcpt_tos[0] for m in smtp.received) == ["a@example.com", "b@example.com"]
    for message in held:
        [row] = await rows(message)
        assert row.status is DeliveryStatus.SENT


async def test_the_round_chores_run_once_per_round_and_never_beside_themselves(mail_api, smtp):
    await queued_email(mail_api, 12)
    worker = mail_api.runtime.worker
    worker.options = WorkerOptions(batch_size=2, concurrency=3, idle_sleep=0.01)
    stop = asyncio.Event()
    rounds = 0
    chores: list[int] = []
    running = 0

    async def chore() -> int:
        nonlocal running
        running += 1
        chores.append(running)
        await asyncio.sleep(0.01)  # long enough for a second caller to overlap, were there one
        running -= 1
        if len(smtp.received) == 12 and rounds >= 2:
            stop.set()
        return 0

    def beat() -> None:
        nonlocal rounds
        rounds += 1

    worker.chores, worker.heartbeat = chore, beat
    await asyncio.wait_for(worker.run(stop), 60)

    assert len(smtp.received) == 12
    assert len(chores) == rounds and set(chores) == {1}


async def test_the_claim_returns_the_rows_as_a_fresh_load_would(mail_api):
    """The loops take their rows from the claim's RETURNING instead of loading them again:
    field for field what tortoise loads, in id order, the claim's lease and attempt in."""
    queued = await queued_email(mail_api, 7)
    claimed = await claim_due_rows(datetime.now(UTC), 5, timedelta(minutes=1))
    loaded = await Delivery.filter(id__in=[d.id for d in claimed]).order_by("id")
    assert [d.id for d in claimed] == [d.id for d in loaded]
    assert len(claimed) == 5 and {d.id for d in claimed} <= {d.id for d in queued}
    fields = [*Delivery._meta.db_fields, "message_id", "customer_id"]
    for mine, fresh in zip(claimed, loaded, strict=True):
        assert {f: getattr(mine, f) for f in fields} == {f: getattr(fresh, f) for f in fields}
        assert mine.attempts == 1 and mine.locked_until is not None


async def test_an_idle_round_claims_once_however_many_loops(mail_api, caplog):
    """The loops beyond the first join only when its claim was a full batch: an idle worker
    polls the queue once a round, not once per loop."""
    worker = mail_api.runtime.worker
    worker.options = WorkerOptions(batch_size=5, concurrency=4)
    await queued_email(mail_api, 3)  # less than a batch: one loop is enough

    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        assert await worker.process_due() == 3
        assert await worker.process_due() == 0
    claims = [r for r in caplog.records if "attempts = attempts + 1" in r.getMessage()]
    assert len(claims) == 3  # the first round: its batch, then nothing due; the second: one
