"""Tier and scheduled sends: expanded in batches by keyset, each recipient × channel decided
exactly once, resumable after an interruption, and nothing decided before it is due."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from tortoise import connections

from tests.conftest import data
from tests.delivery.support import (
    create_category,
    create_customer,
    grant,
    raw_id,
    rows,
    send,
)
from tidings.core.delivery.claims import is_postgres
from tidings.core.delivery.expansion import BATCH, LEASE, expand_due
from tidings.core.enums import DeliveryStatus, GrantStatus, MessageStatus, Role, Tier
from tidings.core.models import Customer, PermissionEntry, PermissionState
from tidings.core.models.messages import Delivery, ExpansionJob, Message

TIER_SIZE = 2_500  # three batches: 1000, 1000, 500
CHANNELS = ("email", "in_app")


async def make_tier(size: int, tier: Tier, category: str) -> dict[uuid.UUID, bool]:
    """`size` customers of `tier` in bulk; every other one holds a GRANTED email permission
    for `category`, recorded as the consent service would (ledger entry + current state).
    Random (not time-ordered) ids, so keyset order differs from creation order."""
    customers = [
        Customer(
            id=uuid.uuid4(),
            external_id=f"{tier.value.lower()}-{n}",
            name=f"Customer {n}",
            email=f"c{n}@example.com",
            tier=tier,
        )
        for n in range(size)
    ]
    await Customer.bulk_create(customers, batch_size=1000)
    now = datetime.now(UTC)
    entries, states = [], []
    granted: dict[uuid.UUID, bool] = {}
    for n, customer in enumerate(customers):
        granted[customer.id] = n % 2 == 0
        if not granted[customer.id]:
            continue
        entry = PermissionEntry(
            id=uuid.uuid4(),
            customer_id=customer.id,
            channel="email",
            category=category,
            status=GrantStatus.GRANTED,
            source="import",
            granted_at=now,
            recorded_by="import",
        )
        entries.append(entry)
        states.append(
            PermissionState(
                customer_id=customer.id,
                channel="email",
                category=category,
                status=GrantStatus.GRANTED,
                source="import",
                granted_at=now,
                entry_id=entry.id,
            )
        )
    await PermissionEntry.bulk_create(entries, batch_size=1000)
    await PermissionState.bulk_create(states, batch_size=1000)
    return granted


async def setup(api, size: int = TIER_SIZE):
    _, token = await api.staff(Role.MARKETER)
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "news", "MARKETING", defaultChannels=list(CHANNELS))
    granted = await make_tier(size, Tier.POTENTIAL, "news")
    # Customers of other tiers must not be reached by a POTENTIAL send.
    for n, tier in enumerate(("HIGH_VALUE", "ORDINARY")):
        await create_customer(api, admin, externalId=f"other-{n}", email=f"o{n}@x.io", tier=tier)
    return token, granted


def assert_exactly_once(deliveries: list[Delivery], granted: dict[uuid.UUID, bool]) -> None:
    pairs = Counter((d.customer_id, d.channel) for d in deliveries)
    duplicated = [pair for pair, n in pairs.items() if n > 1]
    assert duplicated == []
    assert set(pairs) == {(c, ch) for c in granted for ch in CHANNELS}
    for d in deliveries:
        if d.channel == "email" and granted[d.customer_id]:
            assert (d.status, d.reason) == (DeliveryStatus.QUEUED, None)
        else:
            assert (d.status, d.reason) == (DeliveryStatus.SUPPRESSED, "NO_PERMISSION")


async def message_status(message: dict) -> MessageStatus:
    return (await Message.get(id=raw_id(message["id"]))).status


async def test_tier_send_is_accepted_then_expanded_once_per_customer_and_channel(api):
    token, granted = await setup(api)
    tiers = api.runtime.worker.tiers

    message = await send(api, token, "news", {"tier": "POTENTIAL"})
    assert message["status"] == "ACCEPTED"
    assert message["deliveryCounts"] == []
    assert await Delivery.all().count() == 0

    written = await expand_due(tiers, datetime.now(UTC))
    assert written == TIER_SIZE * len(CHANNELS)
    assert await message_status(message) is MessageStatus.EXPANDED
    job = await ExpansionJob.get(message_id=raw_id(message["id"]))
    assert job.done and job.locked_until is None
    assert_exactly_once(await rows(message), granted)

    # Nothing is left to expand: running again writes nothing.
    assert await expand_due(tiers, datetime.now(UTC) + timedelta(hours=1)) == 0
    assert await Delivery.all().count() == TIER_SIZE * len(CHANNELS)

    shown = data(
        await api.gql(
            "query($id: ID!) { message(id: $id) { status deliveryCounts { status count } } }",
            {"id": message["id"]},
            token,
        )
    )["message"]
    assert shown["status"] == "EXPANDED"
    assert {c["status"]: c["count"] for c in shown["deliveryCounts"]} == {
        "QUEUED": TIER_SIZE // 2,
        "SUPPRESSED": TIER_SIZE * 2 - TIER_SIZE // 2,
    }


async def test_interrupted_expansion_resumes_from_its_cursor_without_repeats(api):
    token, granted = await setup(api)
    tiers = api.runtime.worker.tiers
    message = await send(api, token, "news", {"tier": "POTENTIAL"}, key="resume")
    message_id = raw_id(message["id"])

    # One batch, then the worker stops (as after max_batches): the cursor is committed.
    assert await expand_due(tiers, datetime.now(UTC), max_batches=1) == BATCH * len(CHANNELS)
    job = await ExpansionJob.get(message_id=message_id)
    assert not job.done and job.cursor is not None
    first = await rows(message)
    assert len({d.customer_id for d in first}) == BATCH
    assert await message_status(message) is MessageStatus.ACCEPTED
    # The first batch is the lowest ids, in keyset order.
    ordered = sorted(granted)  # uuid order = the order of their text on both databases
    assert {d.customer_id for d in first} == set(ordered[:BATCH])

    # A worker that dies mid-job: the job is still leased and no one else takes it...
    await ExpansionJob.filter(id=job.id).update(locked_until=datetime.now(UTC) + LEASE)
    assert await expand_due(tiers, datetime.now(UTC)) == 0
    # ...until the lease runs out; then the next worker carries on from the cursor.
    later = datetime.now(UTC) + LEASE + timedelta(seconds=1)
    assert await expand_due(tiers, later, max_batches=1) == BATCH * len(CHANNELS)
    assert await expand_due(tiers, later) == (TIER_SIZE - 2 * BATCH) * len(CHANNELS)
    assert await message_status(message) is MessageStatus.EXPANDED
    assert_exactly_once(await rows(message), granted)


async def test_list_audience_is_decided_in_the_send_transaction(api):
    token, granted = await setup(api, size=10)
    listed = list(granted)[:4]
    message = await send(
        api, token, "news", {"customerIds": [str(cid) for cid in listed + listed[:1]]}
    )
    assert message["status"] == "EXPANDED"
    assert await ExpansionJob.all().count() == 0
    deliveries = await rows(message)
    assert len(deliveries) == len(listed) * len(CHANNELS)  # the repeated id counts once
    assert_exactly_once(deliveries, {cid: granted[cid] for cid in listed})


async def test_scheduled_send_waits_until_due_then_is_decided(api):
    token, granted = await setup(api, size=30)
    tiers = api.runtime.worker.tiers
    now = datetime.now(UTC)
    at = now + timedelta(hours=2)
    listed = [str(cid) for cid in list(granted)[:3]]
    scheduled_list = await send(
        api, token, "news", {"customerIds": listed}, scheduleAt=at.isoformat(), key="later-list"
    )
    scheduled_tier = await send(
        api, token, "news", {"tier": "POTENTIAL"}, scheduleAt=at.isoformat(), key="later-tier"
    )
    for message in (scheduled_list, scheduled_tier):
        assert message["status"] == "ACCEPTED"
        assert message["deliveryCounts"] == []
    assert await Delivery.all().count() == 0

    # Not yet due: nothing is decided however often the worker looks.
    assert await expand_due(tiers, now) == 0
    assert await expand_due(tiers, at - timedelta(seconds=1)) == 0
    assert await Delivery.all().count() == 0

    due = at + timedelta(seconds=1)
    while await expand_due(tiers, due):
        pass
    assert await message_status(scheduled_list) is MessageStatus.EXPANDED
    assert await message_status(scheduled_tier) is MessageStatus.EXPANDED
    assert_exactly_once(
        await rows(scheduled_list), {uuid.UUID(cid): granted[uuid.UUID(cid)] for cid in listed}
    )
    assert_exactly_once(await rows(scheduled_tier), granted)


async def test_scheduled_send_through_the_worker_round(api):
    """The worker's own round (expand, then deliver) picks a due job up by itself."""
    token, granted = await setup(api, size=5)
    at = datetime.now(UTC) + timedelta(minutes=30)
    message = await send(
        api, token, "news", {"tier": "POTENTIAL"}, scheduleAt=at.isoformat(), channels=["in_app"]
    )
    _, admin = await api.staff(Role.ADMIN)
    for cid in granted:
        await grant(api, admin, str(cid), "news", "in_app")
    worker = api.runtime.worker
    assert await expand_due(worker.tiers, datetime.now(UTC)) == 0
    assert await expand_due(worker.tiers, at + timedelta(seconds=1)) == len(granted)
    assert await worker.run_once() == len(granted)
    assert {d.status for d in await rows(message)} == {DeliveryStatus.DELIVERED}


async def test_a_job_whose_worker_died_is_taken_over_when_the_workers_lease_ends(db):
    """TIDINGS_WORKER_LEASE_SECONDS holds a tier job as it holds deliveries (not a fixed
    120 s): a worker that claims the job and dies leaves it for that long, no longer."""
    import httpx

    from tests.conftest import Api, make_settings
    from tidings.api.app import create_app
    from tidings.core.delivery.expansion import _claim

    app = create_app(
        make_settings(db, TIDINGS_IN_PROCESS_WORKER="false", TIDINGS_WORKER_LEASE_SECONDS="7"),
        manage_database=False,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        api = Api(client=c, app=app)
        token, _ = await setup(api, size=10)
        await send(api, token, "news", {"tier": "POTENTIAL"}, key="leased")
        worker = api.runtime.worker
        before = datetime.now(UTC)
        assert await _claim(before, worker.options.lease) is not None  # ...and dies
        assert await worker.expand_once(before + timedelta(seconds=6)) == 0
        assert await worker.expand_once(before + timedelta(seconds=8)) == 10 * len(CHANNELS)


async def _refuse_deliveries_for(customer_id: uuid.UUID) -> None:
    """A real failure in the middle of a job: the database refuses this customer's rows."""
    conn = connections.get("default")
    if is_postgres():
        await conn.execute_script(
            "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN"
            f" IF NEW.customer_id = '{customer_id}' THEN RAISE EXCEPTION 'refused'; END IF;"
            " RETURN NEW; END $$ LANGUAGE plpgsql;"
            " CREATE TRIGGER refuse_one BEFORE INSERT ON deliveries"
            " FOR EACH ROW EXECUTE FUNCTION refuse_one();"
        )
    else:
        await conn.execute_script(
            "CREATE TRIGGER refuse_one BEFORE INSERT ON deliveries"
            f" WHEN NEW.customer_id = '{customer_id}' BEGIN SELECT RAISE(ABORT, 'refused'); END;"
        )


async def test_a_failed_batch_write_keeps_the_cursor_and_drops_the_batch_read_ahead(api):
    """The next batch is read while one is written: when the write fails, the batch read
    ahead is cancelled (no task outlives the call), the cursor stays after the last written
    batch, and the next run carries on from there, exactly once."""
    token, granted = await setup(api)
    tiers = api.runtime.worker.tiers
    message = await send(api, token, "news", {"tier": "POTENTIAL"}, key="refused")
    ordered = sorted(granted)
    await _refuse_deliveries_for(ordered[BATCH + 5])  # in the second batch

    with pytest.raises(Exception, match="refused"):
        await expand_due(tiers, datetime.now(UTC))
    assert not [t for t in asyncio.all_tasks() if "_prepare" in repr(t.get_coro())]
    job = await ExpansionJob.get(message_id=raw_id(message["id"]))
    assert (job.cursor, job.done) == (ordered[BATCH - 1], False)
    assert {d.customer_id for d in await rows(message)} == set(ordered[:BATCH])

    drop = "DROP TRIGGER refuse_one" + (" ON deliveries" if is_postgres() else "")
    await connections.get("default").execute_script(drop)
    later = datetime.now(UTC) + LEASE + timedelta(seconds=1)
    assert await expand_due(tiers, later) == (TIER_SIZE - BATCH) * len(CHANNELS)
    assert await message_status(message) is MessageStatus.EXPANDED
    assert_exactly_once(await rows(message), granted)


async def test_an_expansion_past_its_deadline_begins_no_more_batches_and_frees_its_job(api):
    token, granted = await setup(api)
    tiers = api.runtime.worker.tiers
    message = await send(api, token, "news", {"tier": "POTENTIAL"}, key="deadline")
    # A deadline already past: the batch read first is written, no other is begun...
    written = await expand_due(tiers, datetime.now(UTC), until=time.monotonic())
    assert written == BATCH * len(CHANNELS)
    job = await ExpansionJob.get(message_id=raw_id(message["id"]))
    # ...and the job is not left leased: the next round carries on at once.
    assert not job.done and job.locked_until is None
    assert await expand_due(tiers, datetime.now(UTC)) == (TIER_SIZE - BATCH) * len(CHANNELS)
    assert_exactly_once(await rows(message), granted)
