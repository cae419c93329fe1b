"""Frames the bus's own task writes (`schema/live/direct.py`): rendered subscriptions on a
socket that can take a frame at once get it from the bus, with no wake-up of their task;
everything else, and anything that would jump the queue, takes the subscriber's road."""

from __future__ import annotations

import asyncio
import uuid

from tests.delivery.support import send
from tests.live.test_subscriptions import customer_token, setup_customers
from tests.live.ws import connect
from tidings.core.live.bus import UNCHECKED, InProcessBus, LiveSubscription
from tidings.core.live.events import NOTIFICATION, RESYNC, LiveEvent
from tidings.core.viewer import Viewer, ViewerKind

RENDERED = "subscription { notifications { id title } }"
EXECUTED = "subscription { notifications { ... on Notification { id title } } }"


async def test_rendered_subscriptions_get_their_frames_from_the_bus_in_order(live):
    token, (alice,) = await setup_customers(live, 1)
    own = customer_token(live, alice)
    async with connect(live.ws_url, own) as rendered, connect(live.ws_url, own) as executed:
        fast, slow = await rendered.subscribe(RENDERED), await executed.subscribe(EXECUTED)
        await live.subscribed(2)
        # A first notification sees both subscriptions through their loops to the wait.
        await send(live.api, token, "news", alice["id"], title="first")
        assert (await rendered.next(fast))["data"]["notifications"]["title"] == "first"
        assert (await executed.next(slow))["data"]["notifications"]["title"] == "first"
        counts = live.api.runtime.live.frames
        direct, sent = counts.direct, counts.sent
        titles = [f"n{n}" for n in range(5)]
        for title in titles:
            await send(live.api, token, "news", alice["id"], title=title)
        got = [(await rendered.next(fast))["data"]["notifications"] for _ in titles]
        assert [note["title"] for note in got] == titles
        assert [(await executed.next(slow))["data"]["notifications"] for _ in titles] == got
        # The rendered socket's five went out from the bus; the executed one's did not.
        assert counts.direct - direct == len(titles)
        assert counts.sent - sent == 2 * len(titles)


def _customer() -> Viewer:
    return Viewer(kind=ViewerKind.CUSTOMER, id=uuid.uuid4(), token_version=0)


async def test_the_bus_hands_over_only_checked_events_to_a_subscriber_waiting_on_nothing():
    bus = InProcessBus()
    caller = _customer()
    taken: list[int] = []
    subscription: LiveSubscription = bus.subscribe(["customer:a"], caller=caller)
    subscription.direct = lambda event, viewer: taken.append(event.data["n"]) is None

    def event(n: int) -> LiveEvent:
        return LiveEvent("customer:a", NOTIFICATION, {"n": n})

    # Its task is not waiting (busy with an earlier event): queued, in order.
    subscription.offer(event(1), caller)
    assert (taken, subscription.qsize()) == ([], 1)
    # Still queued: the next one goes behind it, never ahead.
    subscription.offer(event(2), caller)
    assert (taken, subscription.qsize()) == ([], 2)
    assert [(await subscription.get())[0].data["n"] for _ in range(2)] == [1, 2]

    getter = asyncio.create_task(subscription.get())
    await asyncio.sleep(0)  # the task now waits on an empty queue
    subscription.offer(event(3), caller)
    assert (taken, subscription.qsize()) == ([3], 0)
    # Not re-checked by the hub, or no longer allowed: the subscriber's own road decides.
    subscription.offer(event(4), UNCHECKED)
    subscription.offer(event(5), None)
    assert taken == [3]
    first, checked = await getter
    assert (first.data["n"], checked) == (4, UNCHECKED)
    second, checked = await subscription.get()
    assert (second.data["n"], checked) == (5, None)


async def test_what_the_subscriber_declines_reaches_its_queue():
    bus = InProcessBus()
    caller = _customer()
    subscription = bus.subscribe(["customer:a"], caller=caller)
    subscription.direct = lambda event, viewer: event.kind == NOTIFICATION
    getter = asyncio.create_task(subscription.get())
    await asyncio.sleep(0)
    subscription.offer(LiveEvent("customer:a", RESYNC, {}), caller)
    event, _ = await getter
    assert event.kind == RESYNC
