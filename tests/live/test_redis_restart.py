"""Redis restarted mid-stream: `tidings serve` and `tidings worker` reconnect by themselves,
and a subscription catches up from the database on what was delivered while Redis was down.
Nothing is lost and nothing arrives twice. The test runs a Redis server of its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.live.procs import (
    NOTIFICATIONS,
    Gql,
    Stack,
    create_category,
    in_app_customer,
    inbox,
    notifications,
    open_stack,
    send_in_app,
)
from tests.live.ws import connect

SETTLE = 0.5  # time for a subscription to be registered before the event it waits for
DELIVERED_TIMEOUT = 15.0
CATCH_UP_TIMEOUT = 15.0


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with open_stack(tmp_path) as opened:
        yield opened


async def until_in_inbox(stack: Stack, api: Gql, token: str, count: int) -> list[dict]:
    """Until the worker has delivered `count` notifications to the customer's inbox."""
    deadline = time.monotonic() + DELIVERED_TIMEOUT
    while True:
        found = await inbox(api, token)
        if len(found) >= count:
            return found
        stack.assert_running()
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{len(found)} of {count} in the inbox after {DELIVERED_TIMEOUT}s: "
                f"{[n['title'] for n in found]}\n{stack.logs()}"
            )
        await asyncio.sleep(0.2)


async def test_a_redis_restart_loses_nothing_and_duplicates_nothing(stack: Stack):
    worker = stack.start_worker()
    api = await stack.start_api("api")
    await stack.wait_started(worker, "delivering")
    admin = await stack.admin_token(api)
    # Transactional: no daily cap gets in the way of four sends to one customer.
    await create_category(api, admin, "alerts", kind="TRANSACTIONAL")
    x_id, x_token = await in_app_customer(api, admin, "xena", "alerts", grant=False)

    async with connect(api.ws_url, x_token) as live:
        stream = await live.subscribe(NOTIFICATIONS)
        async with connect(api.ws_url, x_token) as leaver:
            left_stream = await leaver.subscribe(NOTIFICATIONS)
            await asyncio.sleep(SETTLE)
            await send_in_app(api, admin, x_id, "alerts", "one")
            before = await notifications(live, stream, 1, 10, "live, before the restart")
            [left_saw] = await notifications(leaver, left_stream, 1, 10, "the second client")
            assert [n["title"] for n in before] == ["one"]
            assert left_saw["id"] == before[0]["id"]
        # The second client has gone away; Redis goes down.

        stack.kill_redis()
        await send_in_app(api, admin, x_id, "alerts", "two")
        await send_in_app(api, admin, x_id, "alerts", "three")
        # The worker still delivers into the database; only the live copy is lost.
        await until_in_inbox(stack, api, x_token, 3)

        await stack.start_redis()  # the same port
        caught_up = await notifications(
            live, stream, 2, CATCH_UP_TIMEOUT, "catch-up after Redis came back"
        )
        assert sorted(n["title"] for n in caught_up) == ["three", "two"]

        # Live again, through the reconnected worker and listener.
        await send_in_app(api, admin, x_id, "alerts", "four")
        after = await notifications(live, stream, 1, 10, "live, after the restart")
        assert [n["title"] for n in after] == ["four"]
        await live.nothing(1.0)  # and nothing again

        stream_ids = [n["id"] for n in [*before, *caught_up, *after]]
        assert len(set(stream_ids)) == 4, f"duplicates on the stream: {stream_ids}"

    # The client that was away reconnects and reads what it missed from the inbox.
    async with connect(api.ws_url, x_token) as back:
        await back.subscribe(NOTIFICATIONS)
        found = await inbox(api, x_token)
        # Newest first. "two" and "three" may share a createdAt (one batch of the worker).
        titles = [n["title"] for n in found]
        assert titles[0] == "four" and titles[-1] == "one", titles
        assert sorted(titles) == ["four", "one", "three", "two"], titles
        created = [datetime.fromisoformat(n["createdAt"]) for n in found]
        assert created == sorted(created, reverse=True), found
        assert {n["id"] for n in found} == set(stream_ids)
    stack.assert_running()
