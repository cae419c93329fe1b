"""Several machines in one test: two `tidings serve` and three `tidings worker` processes on
one PostgreSQL database and one Redis, sending to a tier of a few thousand customers through
the HTTP API, while one worker and one serve are SIGKILLed mid-run and started again.

What it shows (docs/scaling.md, "When a process dies"):
- nothing is lost: the SMS peer saw every delivery at least once, and every delivery is SENT;
- duplicates are bounded by the kills: only rows the killed worker had claimed can go twice,
  so at most TIDINGS_WORKER_BATCH_SIZE per delivery loop of a killed worker, and each at
  most twice;
- a send whose serve died under it, retried on the other with the same idempotency key,
  makes exactly one message: killing a serve loses and duplicates nothing.

The victim worker is killed while the peer holds its request, so it dies with claims in hand
(the case the bound is about), never luckily between two rounds."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import asyncpg

from tests.delivery.test_workers_pg import copy_customers, statuses
from tests.scale.cluster import HoldingSmsApi, Sender, SmsStack, open_sms_stack, until

TIER_SIZE = 2_000
TIER_SENDS = 2  # one before the kills, one through the restarted serve after them
SINGLE_SENDS = 60  # one customer each, through both serves while one is killed
BATCH = 50  # TIDINGS_WORKER_BATCH_SIZE: the bound on duplicates per loop of a killed worker
LOOPS = 2  # TIDINGS_WORKER_CONCURRENCY, PostgreSQL's default
# Short, so the killed worker's rows are retaken within the test; long enough that a live
# worker renews (every half lease) even on a busy machine, so only the dead one's go again.
LEASE_SECONDS = 10
EXPECTED = TIER_SENDS * TIER_SIZE + SINGLE_SENDS
DRAIN_TIMEOUT = 300.0

CREATE_CATEGORY = """
mutation($i: CreateCategoryInput!) { createCategory(input: $i) { category { key }
  errors { code field message } } }
"""


async def test_a_killed_worker_and_serve_lose_nothing_and_duplicate_at_most_a_batch_per_loop(
    tmp_path: Path,
):
    peer = HoldingSmsApi(held_from="w1")
    try:
        async with open_sms_stack(
            tmp_path,
            TIDINGS_SMS_URL=f"{peer.url}/v1/messages",
            TIDINGS_SMS_API_KEY=peer.api_key,
            TIDINGS_WORKER_BATCH_SIZE=str(BATCH),
            TIDINGS_WORKER_CONCURRENCY=str(LOOPS),
            TIDINGS_WORKER_LEASE_SECONDS=str(LEASE_SECONDS),
        ) as stack:
            conn = await asyncpg.connect(stack.database_url)
            try:
                await run(stack, peer, conn)
            finally:
                await conn.close()
    finally:
        peer.release.set()
        peer.close()


async def run(stack: SmsStack, peer: HoldingSmsApi, conn: asyncpg.Connection) -> None:
    customers = [str(c) for c in await copy_customers(conn, TIER_SIZE)]
    for tag in ("w1", "w2", "w3"):
        stack.start_worker_as(tag)
    api_a, api_b = await asyncio.gather(stack.start_api("api-a"), stack.start_api("api-b"))
    admin = await stack.admin_token(api_a)
    category = {"key": "otp", "name": "Codes", "kind": "TRANSACTIONAL", "defaultChannels": ["sms"]}
    await api_b(CREATE_CATEGORY, {"i": category}, admin)
    sender = Sender([api_a, api_b], admin)

    # Load: a tier send; the workers expand and deliver it.
    await sender.send("tier-0", {"tier": "HIGH_VALUE"}, first=0)

    # w1 is stuck in its first batch (the peer holds its request): kill it there.
    await until(peer.holding.is_set, "w1 sending", stack.logs)
    victim = stack.proc("w1")
    victim.kill()
    peer.release.set()
    assert await remaining(conn) > 0, "the run was over before the kill"

    # Single sends through both serves, several at once; serve A is killed under them, and
    # stays down until a send has failed on it (and was retried on B).
    singles = [(f"single-{n}", customers[n]) for n in range(SINGLE_SENDS)]
    sending = asyncio.create_task(sender.run(singles, lanes=4))
    await until(lambda: sender.done >= SINGLE_SENDS // 4 or sending.done(), "sends", stack.logs)
    stack.proc("api-a").kill()
    await until(lambda: sender.transport_failures.get(0, 0) > 0, "a send failing", stack.logs)
    victim.start()
    await stack.restart_api("api-a", api_a)
    await sending
    await sender.send("tier-1", {"tier": "HIGH_VALUE"}, first=0)  # the restarted serve

    await until(lambda: drained(conn), f"{EXPECTED} deliveries sent", stack.logs, DRAIN_TIMEOUT)
    stack.assert_running()

    # Every send made one message, the retried ones included.
    keys = await conn.fetch("SELECT idempotency_key, count(*) AS n FROM messages GROUP BY 1")
    assert {r["idempotency_key"]: r["n"] for r in keys} == {
        **{f"tier-{n}": 1 for n in range(TIER_SENDS)},
        **{key: 1 for key, _ in singles},
    }
    # Every delivery SENT, one per message and customer.
    assert await statuses(conn) == Counter({"SENT": EXPECTED})
    pairs = await conn.fetchval("SELECT count(DISTINCT (message_id, customer_id)) FROM deliveries")
    assert pairs == EXPECTED
    # None lost: the peer saw every delivery at least once.
    rows = await conn.fetch("SELECT id, attempts FROM deliveries")
    by_reference = Counter(peer.references())
    assert set(by_reference) == {str(r["id"]) for r in rows}
    # Duplicates bounded by the kill: only the dead worker's claim was taken again (its rows
    # alone have a second attempt), at most a batch per loop, and nothing went three times.
    retaken = {str(r["id"]) for r in rows if r["attempts"] > 1}
    twice = {reference for reference, n in by_reference.items() if n > 1}
    assert 1 <= len(twice) <= len(retaken) <= BATCH * LOOPS, (len(twice), len(retaken))
    assert twice <= retaken
    assert max(by_reference.values()) == 2


async def remaining(conn: asyncpg.Connection) -> int:
    counts = await statuses(conn)
    return counts["QUEUED"] + counts["DEFERRED"]


async def drained(conn: asyncpg.Connection) -> bool:
    counts = await statuses(conn)
    return counts.total() == EXPECTED and counts["QUEUED"] + counts["DEFERRED"] == 0
