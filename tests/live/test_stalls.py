"""What used to stop every live stream of a process: the bus listener waiting on a stalled
database, or dying on a message it could not decode. Each is reproduced against the real
thing (a lock held in the database, a message on a real Redis) and must no longer stall."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid

from tortoise import connections
from tortoise.transactions import in_transaction

from tests.live.test_bus import REDIS_URL, until_followed
from tests.live.test_subscriptions import customer_token, setup_customers
from tests.live.ws import connect
from tidings.core.live.bus import UNCHECKED, InProcessBus
from tidings.core.live.callers import CallerCheck
from tidings.core.live.channels import channel_of
from tidings.core.live.events import NOTIFICATION, RESYNC, LiveEvent
from tidings.core.live.redis_bus import RedisBus
from tidings.core.live.runtime import LiveRuntime
from tidings.core.viewer import Viewer, ViewerKind

GUARD = 30.0  # a bound on waits that must end, never an assertion about speed


async def test_a_stalled_database_does_not_hold_up_the_bus(db):
    runtime = LiveRuntime(InProcessBus(), callers=CallerCheck())
    hub = runtime.bus.hub
    hub.check_timeout = 0.2
    caller = Viewer(kind=ViewerKind.CUSTOMER, id=uuid.uuid4(), token_version=0)
    subscription = runtime.bus.subscribe(["customer:a"], caller=caller)
    held, release = asyncio.Event(), asyncio.Event()

    async def hold_the_database() -> None:
        # PostgreSQL: the customers table locked, so the re-check's SELECT waits on it.
        # SQLite: one connection per process, held by the open transaction.
        async with in_transaction() as conn:
            if db.startswith("postgres"):
                await conn.execute_script("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
            else:
                await conn.execute_query("SELECT 1")
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold_the_database())
    try:
        await asyncio.wait_for(held.wait(), GUARD)
        await asyncio.wait_for(
            runtime.bus.publish([LiveEvent("customer:a", NOTIFICATION, {"n": 1})]), GUARD
        )
        # Delivered while the database is still held: the subscriber checks for itself.
        assert not holder.done()
        event, checked = await asyncio.wait_for(subscription.get(), GUARD)
        assert (event.data, checked) == ({"n": 1}, UNCHECKED)
        assert runtime.backpressure().check_timeouts == 1
    finally:
        release.set()
        await asyncio.wait_for(holder, GUARD)
    # With the database back, the hub checks callers again itself.
    await runtime.bus.publish([LiveEvent("customer:a", NOTIFICATION, {"n": 2})])
    event, checked = await asyncio.wait_for(subscription.get(), GUARD)
    assert (event.data, checked) == ({"n": 2}, None)  # checked: no such customer
    assert hub.check_timeouts == 1


async def test_a_message_nested_too_deeply_does_not_stop_the_listener():
    prefix = f"tidings:test:{secrets.token_hex(4)}"
    listener = RedisBus(REDIS_URL, prefix=prefix, resync_after=0.3)
    publisher = RedisBus(REDIS_URL, prefix=prefix, listen=False)
    await listener.start()
    try:
        await asyncio.wait_for(listener.connected.wait(), GUARD)
        subscription = listener.subscribe(["customer:a"])
        channel = channel_of("customer:a", prefix)
        await until_followed(publisher, channel)
        # The RESYNC a newly followed channel gets, before anything is published.
        first, _ = await asyncio.wait_for(subscription.get(), GUARD)
        assert first.kind == RESYNC
        # json.loads raises RecursionError, not ValueError, on this: it used to end the
        # listener task, and with it every live stream of the process, silently.
        await publisher._redis().publish(channel, "[" * 100_000 + "]" * 100_000)
        await publisher.publish([LiveEvent("customer:a", NOTIFICATION, {"n": 1})])
        event, _ = await asyncio.wait_for(subscription.get(), GUARD)
        assert (event.kind, event.data) == (NOTIFICATION, {"n": 1})
        assert listener.reconnects == 0
    finally:
        await listener.aclose()
        await publisher.aclose()


async def test_overflowing_queues_are_counted_for_metrics():
    runtime = LiveRuntime(InProcessBus())
    behind = runtime.bus.subscribe(["customer:a"], maxsize=2)
    runtime.bus.subscribe(["customer:b"])
    events = [LiveEvent("customer:a", NOTIFICATION, {"n": n}) for n in range(3)]
    await runtime.bus.publish([*events, LiveEvent("customer:b", NOTIFICATION, {"n": 0})])
    pressure = runtime.backpressure()
    assert (pressure.subscriptions, pressure.overflows) == (2, 1)
    assert (pressure.queued, pressure.deepest) == (2, 1)  # a's RESYNC and b's event
    assert (await behind.get())[0].kind == RESYNC


async def test_a_database_failure_at_connect_or_subscribe_closes_with_1013(live, db):
    _, (customer,) = await setup_customers(live, 1)
    bearer = customer_token(live, customer)
    conn = connections.get("default")
    # The token cannot be checked: the query for its customer fails.
    await conn.execute_script("ALTER TABLE customers RENAME TO customers_away")
    try:
        async with connect(live.ws_url, init=False) as client:
            init = {"type": "connection_init", "payload": {"authorization": f"Bearer {bearer}"}}
            await client.socket.send(json.dumps(init))
            closed = await client.closed(GUARD)
            assert (closed.code, closed.reason) == (1013, "Try again later")
    finally:
        await conn.execute_script("ALTER TABLE customers_away RENAME TO customers")
    async with connect(live.ws_url, bearer) as client:  # acknowledged, the database back
        # Failing again when the operation's caller is checked: the same answer, rather
        # than a subscription that never starts while the app waits on it.
        await conn.execute_script("ALTER TABLE customers RENAME TO customers_away")
        try:
            await client.subscribe("subscription { notifications { id } }")
            closed = await client.closed(GUARD)
            assert (closed.code, closed.reason) == (1013, "Try again later")
        finally:
            await conn.execute_script("ALTER TABLE customers_away RENAME TO customers")
