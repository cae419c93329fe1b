"""Across processes: two `tidings serve` and one `tidings worker` on one PostgreSQL and one
Redis. What the worker delivers, and what one API process changes, reaches the subscribers
on the other API process through the Redis bus, on the channels their topics travel on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as redis

from tests.core.support import raw_id
from tests.live.procs import (
    INBOX_UPDATES,
    NOTIFICATIONS,
    SEND,
    Stack,
    create_category,
    in_app_customer,
    inbox,
    notifications,
    open_stack,
    send_in_app,
)
from tests.live.ws import connect
from tidings.core.live.channels import channel_of
from tidings.core.live.events import message_topic

# Time for a subscription to be registered on the server before the event it waits for.
SETTLE = 0.5


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with open_stack(tmp_path) as opened:
        yield opened


async def test_an_event_reaches_subscribers_on_another_api_process(stack: Stack):
    worker = stack.start_worker()
    api_a, api_b = await asyncio.gather(stack.start_api("api-a"), stack.start_api("api-b"))
    await stack.wait_started(worker, "delivering")
    admin = await stack.admin_token(api_a)
    await create_category(api_b, admin, "news")
    x_id, x_token = await in_app_customer(api_a, admin, "xena", "news")
    _, y_token = await in_app_customer(api_b, admin, "yuri", "news")

    async with AsyncExitStack() as sockets:
        x_on_a = await sockets.enter_async_context(connect(api_a.ws_url, x_token))
        y_on_a = await sockets.enter_async_context(connect(api_a.ws_url, y_token))
        x_updates_on_b = await sockets.enter_async_context(connect(api_b.ws_url, x_token))
        x_stream = await x_on_a.subscribe(NOTIFICATIONS)
        await y_on_a.subscribe(NOTIFICATIONS)
        x_updates = await x_updates_on_b.subscribe(INBOX_UPDATES)
        await asyncio.sleep(SETTLE)

        # Sent through B, delivered by the worker, received on A.
        await send_in_app(api_b, admin, x_id, "news", "Hello Xena", "from B")
        [got] = await notifications(x_on_a, x_stream, 1, 10, "X on A after a send through B")
        assert (got["title"], got["body"], got["category"]) == ("Hello Xena", "from B", "news")
        assert got["readAt"] is None
        # Published after the commit: another process already reads it from the database.
        assert [n["id"] for n in await inbox(api_b, x_token)] == [got["id"]]
        await x_on_a.nothing(1.0)  # exactly one
        await y_on_a.nothing(0.5)  # and nothing for another customer
        stack.assert_running()

        # Read through A, seen by X's inbox subscriber on B.
        marked = await api_a(
            "mutation($ids: [ID!]!) { markRead(ids: $ids)"
            " { unreadCount errors { code field message } } }",
            {"ids": [got["id"]]},
            x_token,
        )
        assert marked["markRead"]["unreadCount"] == 0
        seen = []
        while True:
            try:
                payload = await x_updates_on_b.next(x_updates, timeout=10)
            except TimeoutError:
                raise AssertionError(
                    f"X's inboxUpdates on B never showed the read; saw {seen}"
                ) from None
            assert not payload.get("errors"), payload["errors"]
            update = payload["data"]["inboxUpdates"]
            seen.append(update)
            if got["id"] in update["readIds"]:
                break
        assert update["unreadCount"] == 0, seen
        assert update["archivedIds"] == [], seen
        await y_on_a.nothing(0.5)  # Y's stream stayed quiet throughout
        stack.assert_running()


DELIVERY_UPDATES = """subscription($m: ID!) { deliveryUpdates(messageId: $m) {
  id status customer { id } } }"""


async def numsub(stack: Stack, channel: str) -> int:
    client = redis.Redis.from_url(stack.redis_url)
    try:
        [(_, count)] = await client.pubsub_numsub(channel)
        return int(count)
    finally:
        await client.aclose()


async def test_a_message_followed_on_one_api_process_gets_the_workers_delivery_events(
    stack: Stack,
):
    worker = stack.start_worker()
    api_a, api_b = await asyncio.gather(stack.start_api("api-a"), stack.start_api("api-b"))
    await stack.wait_started(worker, "delivering")
    admin = await stack.admin_token(api_a)
    await create_category(api_b, admin, "news")
    x_id, _ = await in_app_customer(api_a, admin, "xena", "news")
    # Due in a few seconds: the subscription is listening before the worker delivers it.
    due = (datetime.now(UTC) + timedelta(seconds=6)).isoformat()
    sent = await api_b(
        SEND,
        {
            "i": {
                "idempotencyKey": "followed",
                "category": "news",
                "to": {"customerId": x_id},
                "channels": ["in_app"],
                "content": {"title": "Tracked", "body": "body"},
                "scheduleAt": due,
            }
        },
        admin,
    )
    message_id = sent["send"]["message"]["id"]
    message_channel = channel_of(message_topic(raw_id(message_id)))
    async with connect(api_a.ws_url, admin) as staff:
        op = await staff.subscribe(DELIVERY_UPDATES, {"m": message_id})
        for _ in range(100):  # API A follows the message's own channel
            if await numsub(stack, message_channel) == 1:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"nobody follows {message_channel}\n{stack.logs()}")
        statuses = []
        while "DELIVERED" not in statuses:
            try:
                payload = await staff.next(op, timeout=30)
            except TimeoutError:
                raise AssertionError(f"saw {statuses}\n{stack.logs()}") from None
            assert not payload.get("errors"), payload["errors"]
            update = payload["data"]["deliveryUpdates"]
            assert update["customer"] == {"id": x_id}
            statuses.append(update["status"])
        assert set(statuses) <= {"QUEUED", "DELIVERED"}, statuses
    # The last subscriber of the message left: API A unsubscribes from its channel.
    for _ in range(100):
        if await numsub(stack, message_channel) == 0:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"{message_channel} still followed after the socket closed")
    stack.assert_running()
