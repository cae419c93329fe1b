"""The live bus on its own: topics, overflow, the wire format, Redis between two buses, and
a subscription catching up after a gap."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.core.support import raw_id
from tests.delivery.support import send
from tests.live.procs import Stack, free_port
from tests.live.test_subscriptions import NOTIFICATIONS, customer_token, setup_customers
from tests.live.ws import connect
from tidings.core.live.bus import UNCHECKED, InProcessBus
from tidings.core.live.callers import CallerCheck
from tidings.core.live.catchup import MARGIN, SentLog
from tidings.core.live.channels import channel_of
from tidings.core.live.events import NOTIFICATION, RESYNC, LiveEvent, decode, encode
from tidings.core.live.redis_bus import RedisBus
from tidings.core.models import Customer
from tidings.core.models.messages import Notification
from tidings.core.viewer import Viewer, ViewerKind
from tidings.schema.inbox.types import notification_id

REDIS_URL = "redis://127.0.0.1:6379/0"


async def until_followed(bus: RedisBus, channel: str, count: int = 1) -> None:
    """Until Redis counts `count` subscribers of `channel` (SUBSCRIBE is asynchronous)."""
    for _ in range(500):
        [(_, found)] = await bus._redis().pubsub_numsub(channel)
        if found == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{channel}: {found} subscribers, not {count}")


async def test_events_reach_only_their_topic_and_stop_after_close():
    bus = InProcessBus()
    mine = bus.subscribe(["customer:a"])
    other = bus.subscribe(["customer:b"])
    await bus.publish([LiveEvent("customer:a", NOTIFICATION, {"n": 1})])
    assert (await asyncio.wait_for(mine.get(), 1))[0].data == {"n": 1}
    assert other.qsize() == 0
    mine.close()
    await bus.publish([LiveEvent("customer:a", NOTIFICATION, {"n": 2})])
    assert mine.qsize() == 0
    assert len(bus.hub) == 1


async def test_a_subscriber_that_falls_behind_gets_one_resync_instead_of_the_backlog():
    bus = InProcessBus()
    slow = bus.subscribe(["customer:a"], maxsize=3)
    await bus.publish([LiveEvent("customer:a", NOTIFICATION, {"n": n}) for n in range(5)])
    # The backlog (0-2) went, the database has it; what came after the overflow follows.
    (first, _), (second, _) = await slow.get(), await slow.get()
    assert (first.kind, second.data) == (RESYNC, {"n": 4})
    assert slow.qsize() == 0


def test_the_wire_format_round_trips_and_refuses_anything_else():
    events = [LiveEvent("message:x", "delivery", {"status": "DELIVERED", "n": [1, 2]})]
    (back,) = decode(encode(events))
    assert (back.topic, back.kind, back.data) == ("message:x", "delivery", events[0].data)
    for bad in ('{"a": 1}', "[1]", '[["t", "k"]]', "not json"):
        with pytest.raises(ValueError):
            decode(bad)


async def test_redis_carries_events_between_buses_and_ignores_garbage():
    prefix = f"tidings:test:{secrets.token_hex(4)}"
    listener = RedisBus(REDIS_URL, prefix=prefix)
    publisher = RedisBus(REDIS_URL, prefix=prefix, listen=False)
    await listener.start()
    try:
        await asyncio.wait_for(listener.connected.wait(), 5)
        sub = listener.subscribe(["customer:a"])
        channel = channel_of("customer:a", prefix)
        await until_followed(publisher, channel)
        await publisher._redis().publish(channel, "garbage")  # logged and dropped
        await publisher.publish([LiveEvent("customer:a", NOTIFICATION, {"n": 1})])
        event, _ = await asyncio.wait_for(sub.get(), 5)
        assert (event.kind, event.data) == (NOTIFICATION, {"n": 1})
        assert listener.reconnects == 0
    finally:
        await listener.aclose()
        await publisher.aclose()


async def test_publishing_with_redis_away_loses_nothing_but_the_live_copy(caplog):
    bus = RedisBus("redis://127.0.0.1:1/0", listen=False)  # nothing listens on port 1
    try:
        await bus.publish([LiveEvent("customer:a", NOTIFICATION, {"secret": "x"})])
    finally:
        await bus.aclose()
    assert "not published live" in caplog.text
    assert "secret" not in caplog.text


async def test_after_a_gap_the_subscription_sends_what_it_missed_once(live):
    token, (alice,) = await setup_customers(live, 1)
    async with connect(live.ws_url, customer_token(live, alice)) as client:
        op = await client.subscribe(NOTIFICATIONS)

        await send(live.api, token, "news", alice["id"], title="Live")
        live_one = (await client.next(op))["data"]["notifications"]
        # Stored while the bus was away: in the inbox, never published.
        customer_id = raw_id(alice["id"])
        missed = await Notification.create(
            customer_id=customer_id,
            delivery_id=uuid.uuid4(),
            category="news",
            title="Missed",
            body="While away",
        )
        live.api.runtime.bus.hub.resync_all()  # what the Redis bus does when it is back
        caught = (await client.next(op))["data"]["notifications"]
        assert (caught["id"], caught["title"]) == (notification_id(missed.id), "Missed")
        assert caught["id"] != live_one["id"]
        # A second gap sends neither again.
        live.api.runtime.bus.hub.resync_all()
        await client.nothing(0.7)


def test_the_sent_log_forgets_what_no_catch_up_would_read_again():
    log = SentLog()
    start = log.started
    assert log.fresh("a", (start + timedelta(seconds=1)).isoformat())
    assert not log.fresh("a", (start + timedelta(seconds=1)).isoformat())
    assert log.fresh("b", (start + timedelta(seconds=60)).isoformat())
    # "a" is older than the window behind "b": forgotten, and never read back either.
    assert not log.seen("a") and log.seen("b") and len(log) == 1
    assert log.catch_up_from == start + timedelta(seconds=60) - MARGIN


async def test_a_listener_that_started_before_redis_catches_up_once_it_answers(tmp_path):
    stack = Stack(tmp_path, redis_port=free_port())
    bus = RedisBus(stack.redis_url)
    await bus.start()
    try:
        subscription = bus.subscribe(["customer:a"])
        await asyncio.sleep(0.3)  # a failed attempt or two: nothing is listening yet
        assert not bus.connected.is_set()
        await stack.start_redis()
        await asyncio.wait_for(bus.connected.wait(), 10)
        # Anything published meanwhile was lost to pub/sub: the subscribers read it back.
        assert (await asyncio.wait_for(subscription.get(), 5))[0].kind == RESYNC
    finally:
        await bus.aclose()
        await stack.close()


async def test_the_hub_rechecks_every_reached_caller_in_one_go(db, caplog):
    allowed = await Customer.create(external_id=f"a-{uuid.uuid4().hex[:6]}")
    revoked = await Customer.create(external_id=f"r-{uuid.uuid4().hex[:6]}", token_version=1)
    erased = await Customer.create(
        external_id=f"e-{uuid.uuid4().hex[:6]}", erasure_started_at=datetime.now(UTC)
    )
    bus = InProcessBus()
    bus.hub.check = CallerCheck().recheck_many
    subs = {
        name: bus.subscribe(
            [f"customer:{customer.id}"],
            caller=Viewer(kind=ViewerKind.CUSTOMER, id=customer.id, token_version=0),
        )
        for name, customer in (("allowed", allowed), ("revoked", revoked), ("erased", erased))
    }
    events = [LiveEvent(f"customer:{c.id}", NOTIFICATION, {}) for c in (allowed, revoked, erased)]
    await bus.publish(events)
    _, fresh = await subs["allowed"].get()
    assert fresh is not None and fresh is not UNCHECKED and fresh.id == allowed.id
    assert (await subs["revoked"].get())[1] is None  # its token version moved on
    assert (await subs["erased"].get())[1] is None  # its erasure has begun

    async def broken(callers):
        raise RuntimeError("database away")

    bus.hub.check = broken  # each subscriber then checks for itself
    await bus.publish(events[:1])
    assert (await subs["allowed"].get())[1] is UNCHECKED
    assert "re-checking callers failed" in caplog.text


async def test_a_batch_split_by_channel_is_re_checked_in_one_go_not_per_message():
    prefix = f"tidings:test:{secrets.token_hex(4)}"
    listener = RedisBus(REDIS_URL, prefix=prefix, resync_after=3600)
    publisher = RedisBus(REDIS_URL, prefix=prefix, listen=False)
    checked: list[int] = []
    first_check = asyncio.Event()
    release = asyncio.Event()

    async def slow_check(callers):  # the database, busy with the first lot
        checked.append(len(callers))
        first_check.set()
        await release.wait()
        return list(callers)

    listener.hub.check = slow_check
    await listener.start()
    try:
        await asyncio.wait_for(listener.connected.wait(), 5)
        customers = [uuid.uuid4() for _ in range(120)]
        subs = [
            listener.subscribe(
                [f"customer:{c}"],
                caller=Viewer(kind=ViewerKind.CUSTOMER, id=c, token_version=0),
            )
            for c in customers
        ]
        channels = {channel_of(f"customer:{c}", prefix) for c in customers}
        assert len(channels) > 30  # the batch goes out as one message per customer shard
        for channel in channels:
            await until_followed(publisher, channel)
        events = [
            LiveEvent(f"customer:{c}", NOTIFICATION, {"n": n}) for n, c in enumerate(customers)
        ]
        await publisher.publish(events[:1])
        await asyncio.wait_for(first_check.wait(), 5)
        await publisher.publish(events[1:])  # while the first lot's re-check waits
        for _ in range(500):
            if len(listener.pending) == len(events) - 1:
                break
            await asyncio.sleep(0.01)
        assert len(listener.pending) == len(events) - 1
        release.set()
        got = [await asyncio.wait_for(sub.get(), 5) for sub in subs]
        assert [event.data["n"] for event, _ in got] == list(range(len(customers)))
        assert all(verdict not in (UNCHECKED, None) for _, verdict in got)
        # Dozens of bus messages, two re-checks: the first lot, then all that gathered.
        assert checked == [1, len(customers) - 1]
    finally:
        await listener.aclose()
        await publisher.aclose()
