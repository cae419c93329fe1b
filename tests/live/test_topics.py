"""Per-topic Redis channels: a listener follows exactly the channels its subscriptions need,
a publisher leaves out the channels nobody follows, and a subscription whose channel a
publisher still believed unfollowed catches up. On the shared Redis, each test under a
prefix of its own."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.live.procs import Stack, free_port
from tests.live.test_bus import REDIS_URL, until_followed
from tidings.core.live.channels import SHARDS, channel_of, channels_of, shard
from tidings.core.live.events import (
    DELIVERY,
    NOTIFICATION,
    RESYNC,
    LiveEvent,
    customer_topic,
    encode,
    message_topic,
)
from tidings.core.live.following import FollowCache
from tidings.core.live.redis_bus import RedisBus


@pytest.fixture
async def prefix() -> str:
    return f"tidings:test:{secrets.token_hex(4)}"


@pytest.fixture
async def listener(prefix: str) -> AsyncIterator[RedisBus]:
    bus = RedisBus(REDIS_URL, prefix=prefix, resync_after=0.3)
    await bus.start()
    await asyncio.wait_for(bus.connected.wait(), 5)
    try:
        yield bus
    finally:
        await bus.aclose()


@pytest.fixture
async def publisher(prefix: str) -> AsyncIterator[RedisBus]:
    bus = RedisBus(REDIS_URL, prefix=prefix, listen=False)
    try:
        yield bus
    finally:
        await bus.aclose()


def test_topics_map_onto_channels_by_customer_shard_and_by_message():
    customer = uuid.UUID("6f1c1d7e-0000-4000-8000-000000000001")
    message = uuid.uuid4()
    assert channel_of(customer_topic(customer)) == f"tidings:live:c:{shard(str(customer))}"
    assert 0 <= shard(str(customer)) < SHARDS
    assert channel_of(message_topic(message), "p") == f"p:m:{message}"
    staff = channel_of(f"staff:{customer}", "p")
    assert staff.startswith("p:v:") and staff != channel_of(f"api_key:{customer}", "p")
    # A customer's own (revocation) topic is its customer topic: one channel.
    assert channels_of([customer_topic(customer), f"customer:{customer}"]) == [
        channel_of(customer_topic(customer))
    ]


async def test_a_listener_follows_a_channel_from_its_first_subscription_to_its_last(
    listener: RedisBus, publisher: RedisBus, prefix: str
):
    topic = customer_topic(uuid.uuid4())
    channel = channel_of(topic, prefix)
    first = listener.subscribe([topic])
    second = listener.subscribe([topic])
    await until_followed(publisher, channel)
    first.close()
    await asyncio.sleep(0.2)  # one left: still followed
    await until_followed(publisher, channel)
    second.close()
    await until_followed(publisher, channel, 0)  # the last one left: UNSUBSCRIBEd
    assert channel not in listener.followed_channels()
    # Back again: followed again, on the same connection.
    third = listener.subscribe([topic])
    await until_followed(publisher, channel)
    third.close()
    await until_followed(publisher, channel, 0)
    assert listener.reconnects == 0


async def test_a_send_nobody_follows_puts_nothing_on_redis_and_a_few_followers_little(
    listener: RedisBus, publisher: RedisBus, prefix: str
):
    """The events a worker publishes for an in-app send to N customers: a delivery change on
    the message's topic and a notification on each customer's, in batches of 200 events."""
    customers = [uuid.uuid4() for _ in range(1000)]
    message = uuid.uuid4()

    def batches() -> list[list[LiveEvent]]:
        events = []
        for customer in customers:
            events.append(LiveEvent(message_topic(message), DELIVERY, {"id": str(customer)}))
            data = {"id": str(uuid.uuid4()), "customer_id": str(customer), "title": "Hello"}
            events.append(LiveEvent(customer_topic(customer), NOTIFICATION, data))
        return [events[i : i + 200] for i in range(0, len(events), 200)]

    sent = batches()
    for batch in sent:
        await publisher.publish(batch)
    nobody = publisher.published
    assert (nobody.messages, nobody.bytes, nobody.events) == (0, 0, 0)
    assert nobody.skipped_events == 2 * len(customers)
    # At most one question per batch, and none once every channel's answer is known.
    assert 1 <= nobody.numsub_queries < len(sent)

    followers = customers[:3]
    subs = [listener.subscribe([customer_topic(c)]) for c in followers]
    for c in followers:
        await until_followed(publisher, channel_of(customer_topic(c), prefix))
    few = RedisBus(REDIS_URL, prefix=prefix, listen=False)  # no stale answers
    try:
        for batch in batches():
            await few.publish(batch)
        counts = few.published
    finally:
        await few.aclose()
    for sub, customer in zip(subs, followers, strict=True):
        event, _ = await asyncio.wait_for(sub.get(), 5)
        assert (event.kind, event.data["customer_id"]) == (NOTIFICATION, str(customer))
    # Only the followed shards travelled, each with the other customers hashed to it; no
    # delivery event (nobody follows the message).
    followed = {channel_of(customer_topic(c), prefix) for c in followers}
    sharing = [c for c in customers if channel_of(customer_topic(c), prefix) in followed]
    assert counts.events == len(sharing) < 0.1 * len(customers)
    assert counts.skipped_events == 2 * len(customers) - len(sharing)
    assert counts.messages <= len(followed) * len(sent)
    one_channel = sum(len(encode(batch).encode()) for batch in sent)
    print(
        f"\nsend to {len(customers)} customers: one channel for all (before): "
        f"{len(sent)} messages, {2 * len(customers)} events, {one_channel} bytes; "
        f"nobody following: 0 messages, 0 bytes; "
        f"3 following: {counts.messages} messages, {counts.events} events, "
        f"{counts.bytes} bytes ({counts.skipped_events} events skipped)"
    )


async def test_a_subscription_a_publisher_still_thought_unfollowed_catches_up(
    listener: RedisBus, publisher: RedisBus, prefix: str
):
    topic = customer_topic(uuid.uuid4())
    await publisher.publish([LiveEvent(topic, NOTIFICATION, {"n": 0})])  # "nobody follows"
    sub = listener.subscribe([topic])
    await until_followed(publisher, channel_of(topic, prefix))
    # Within the publisher's answer's lifetime: skipped, though now followed.
    await publisher.publish([LiveEvent(topic, NOTIFICATION, {"n": 1})])
    assert publisher.published.skipped_events == 2
    # The subscription is told to read back from the database once no such answer is left.
    event, _ = await asyncio.wait_for(sub.get(), 10)
    assert event.kind == RESYNC


def test_an_answer_is_kept_for_its_lifetime_from_when_it_was_asked():
    now = [100.0]
    cache = FollowCache(ttl=1.0, clock=lambda: now[0])
    assert cache.unknown(["a", "b"]) == ["a", "b"]
    assert cache.followed("a")  # never asked: publish rather than lose
    cache.record(99.5, {"a": 0, "b": 2})
    assert cache.unknown(["a", "b"]) == []
    assert not cache.followed("a") and cache.followed("b")
    now[0] = 100.5  # asked at 99.5: expired now, though answered later
    assert cache.unknown(["a", "b"]) == ["a", "b"]
    cache.forget()
    assert cache.followed("a")


async def test_a_subscription_opened_while_redis_is_away_is_followed_once_it_is_back(
    tmp_path: Path,
):
    stack = Stack(tmp_path, redis_port=free_port())
    await stack.start_redis()
    bus = RedisBus(stack.redis_url, resync_after=0.3)
    await bus.start()
    try:
        await asyncio.wait_for(bus.connected.wait(), 10)
        stack.kill_redis()
        for _ in range(400):  # until the listener noticed
            if not bus.connected.is_set():
                break
            await asyncio.sleep(0.05)
        topic = customer_topic(uuid.uuid4())
        subscription = bus.subscribe([topic])
        await stack.start_redis()
        await asyncio.wait_for(bus.connected.wait(), 20)
        assert (await asyncio.wait_for(subscription.get(), 10))[0].kind == RESYNC
        await until_followed(bus, channel_of(topic))
        await bus.publish([LiveEvent(topic, NOTIFICATION, {"n": 1})])
        while (event := (await asyncio.wait_for(subscription.get(), 10))[0]).kind == RESYNC:
            pass  # the channel's own catch-up may come first
        assert event.data == {"n": 1}
    finally:
        await bus.aclose()
        await stack.close()
