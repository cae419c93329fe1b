"""The websocket cap per customer across API processes, in Redis: every process's sockets
count, a killed process's stop counting once their TTL passes, and without Redis each
process counts its own."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.live.procs import Stack, create_category, free_port, in_app_customer, open_stack
from tests.live.test_bus import REDIS_URL
from tests.live.ws import Closed, connect
from tidings.core.live.redis_socket_cap import RedisSocketCap
from tidings.core.live.socket_cap import TooManySockets

EXPIRY_TIMEOUT = 20.0


async def until_admitted(cap: RedisSocketCap, customer: uuid.UUID) -> None:
    """Until the cap admits one more of the customer's sockets (the others expired)."""
    deadline = time.monotonic() + EXPIRY_TIMEOUT
    while True:
        try:
            await cap.acquire(customer)
            return
        except TooManySockets:
            if time.monotonic() > deadline:
                raise AssertionError(f"still refused after {EXPIRY_TIMEOUT}s") from None
            await asyncio.sleep(0.2)


async def test_every_process_sockets_count_and_a_slot_given_back_is_free_again():
    customer, other = uuid.uuid4(), uuid.uuid4()
    one, two = RedisSocketCap(REDIS_URL, 2), RedisSocketCap(REDIS_URL, 2)
    try:
        first = await one.acquire(customer)
        await two.acquire(customer)
        for cap in (one, two):
            with pytest.raises(TooManySockets):
                await cap.acquire(customer)
        await two.acquire(other)  # another customer is not affected
        await first()
        await first()  # once only: the second call gives back nothing
        await two.acquire(customer)
        with pytest.raises(TooManySockets):
            await one.acquire(customer)
    finally:
        await one.aclose()
        await two.aclose()


async def test_sockets_a_process_stops_refreshing_stop_counting_after_the_ttl():
    customer = uuid.uuid4()
    killed = RedisSocketCap(REDIS_URL, 2, ttl=1)  # never started: nothing refreshes
    alive = RedisSocketCap(REDIS_URL, 2, ttl=1)
    await alive.start()
    try:
        await killed.acquire(customer)
        await alive.acquire(customer)
        with pytest.raises(TooManySockets):
            await alive.acquire(customer)
        await until_admitted(alive, customer)  # the killed process's socket expired
        # The live process's own sockets outlast the TTL: its heartbeat refreshes them.
        await asyncio.sleep(2.5)
        with pytest.raises(TooManySockets):
            await killed.acquire(customer)
    finally:
        await killed.aclose()
        await alive.aclose()


async def test_without_redis_a_process_counts_its_own_sockets(caplog):
    customer = uuid.uuid4()
    cap = RedisSocketCap("redis://127.0.0.1:1/0", 2)  # nothing listens on port 1
    try:
        first = await cap.acquire(customer)
        await cap.acquire(customer)
        with pytest.raises(TooManySockets):
            await cap.acquire(customer)
        await first()
        await cap.acquire(customer)
    finally:
        await cap.aclose()
    assert "counting this process's sockets only" in caplog.text
    assert str(customer) not in caplog.text


async def test_losing_redis_mid_socket_is_logged_and_the_slot_expires_by_itself(
    tmp_path: Path, caplog
):
    stack = Stack(tmp_path, redis_port=free_port())
    await stack.start_redis()
    cap = RedisSocketCap(stack.redis_url, 2, ttl=1)
    await cap.start()
    try:
        release = await cap.acquire(uuid.uuid4())
        stack.kill_redis()
        deadline = time.monotonic() + EXPIRY_TIMEOUT
        while "heartbeat failed" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            await asyncio.sleep(0.1)
        await release()
        assert "could not release a slot" in caplog.text
    finally:
        await cap.aclose()
        await stack.close()


# Two real `tidings serve` processes on one Redis ----------------------------------------


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with open_stack(tmp_path) as opened:
        yield opened


async def admitted(url: str, token: str) -> bool:
    """Whether a socket of the customer gets its connection_ack (False: closed with 4429)."""
    try:
        async with connect(url, token):
            return True
    except Closed as closed:
        assert closed.code == 4429, closed
        return False


async def test_the_cap_counts_sockets_on_every_api_process(stack: Stack):
    settings = {"TIDINGS_WS_MAX_SOCKETS_PER_CUSTOMER": "2", "TIDINGS_WS_SOCKET_TTL": "2"}
    api_a, api_b = await asyncio.gather(
        stack.start_api("api-a", **settings), stack.start_api("api-b", **settings)
    )
    admin = await stack.admin_token(api_a)
    await create_category(api_a, admin, "news")
    _, token = await in_app_customer(api_a, admin, "xena", "news")
    _, other = await in_app_customer(api_a, admin, "yuri", "news")

    killed_sockets = AsyncExitStack()
    async with AsyncExitStack() as sockets:
        await killed_sockets.enter_async_context(connect(api_a.ws_url, token))
        on_b = AsyncExitStack()
        await on_b.enter_async_context(connect(api_b.ws_url, token))
        # One on each process: the customer's allowance of two is used up on both.
        assert not await admitted(api_a.ws_url, token)
        assert not await admitted(api_b.ws_url, token)
        assert await admitted(api_b.ws_url, other)  # another customer is not affected
        await on_b.aclose()  # B's socket closes: its slot is free, on A too
        for _ in range(100):
            if await admitted(api_a.ws_url, token):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the slot B gave back never came free")
        await killed_sockets.enter_async_context(connect(api_a.ws_url, token))
        assert not await admitted(api_b.ws_url, token)

        # A dies without closing anything: its two sockets stop counting after the TTL.
        [proc_a] = [p for p in stack.procs if p.name == "api-a"]
        proc_a.kill()
        with contextlib.suppress(Exception):
            await killed_sockets.aclose()
        deadline = time.monotonic() + EXPIRY_TIMEOUT
        while not await admitted(api_b.ws_url, token):
            assert time.monotonic() < deadline, f"A's sockets still count\n{stack.logs()}"
            await asyncio.sleep(0.3)
        await sockets.enter_async_context(connect(api_b.ws_url, token))
        await sockets.enter_async_context(connect(api_b.ws_url, token))
        assert not await admitted(api_b.ws_url, token)
