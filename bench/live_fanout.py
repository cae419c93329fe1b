"""The live benchmark's fan-out rounds: the live layer alone, without the delivery pipeline.

A redis-server of the benchmark's own (a free port, no persistence, stopped at the end; never
the machine's shared one) carries `tidings serve`'s bus. A fan-out round publishes one
NOTIFICATION event per subscriber straight onto that bus, exactly as a worker process does after
its commit: batches of `BATCH` events, each split by channel (`channels.by_channel`: one
`encode`d message per customer shard) and published in one pipeline, the event data shaped
like `publisher.notification_data`. Every round's messages are built and encoded before the
first round starts, so a round's clock runs from just before its first PUBLISH.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime

import redis.asyncio as redis
from redis.exceptions import RedisError

from bench import servers
from bench.customers_page import BenchmarkError
from tidings.core.ids import new_id
from tidings.core.live.channels import PREFIX, by_channel
from tidings.core.live.events import NOTIFICATION, LiveEvent, customer_topic, encode

# Every listening API process follows this channel, whatever its subscriptions.
CONTROL = f"{PREFIX}:ctl"

BATCH = 1000  # events per bus message: the worker's batch


@contextlib.asynccontextmanager
async def redis_server() -> AsyncIterator[str]:
    """`redis-server` on a free loopback port, without persistence; yields its URL."""
    port = servers.free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--save", "", "--appendonly", "no"]
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    await client.ping()
                    break
                except (RedisError, OSError):
                    if process.returncode is not None or time.monotonic() > deadline:
                        raise BenchmarkError(
                            "live: the benchmark's redis-server did not start"
                        ) from None
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


Batch = list[tuple[str, str]]  # (channel, message) pairs published in one pipeline


def messages(
    customer_ids: Sequence[uuid.UUID], title: str, body: str, category: str
) -> list[Batch]:
    """One round's bus messages: a fresh notification for every customer, `BATCH` events a
    pipeline, one message per channel in it."""
    now = datetime.now(UTC).isoformat()
    events = [
        LiveEvent(
            customer_topic(cid),
            NOTIFICATION,
            {
                "id": str(new_id()),
                "customer_id": str(cid),
                "category": category,
                "title": title,
                "body": body,
                "data": None,
                "created_at": now,
                "read_at": None,
            },
        )
        for cid in customer_ids
    ]
    return [
        [(channel, encode(part)) for channel, part in by_channel(events[i : i + BATCH]).items()]
        for i in range(0, len(events), BATCH)
    ]


class Publisher:
    """Publishes prepared rounds on the bus, one awaited pipeline per batch, as a worker's
    rounds do one after another."""

    def __init__(self, url: str, rounds: list[list[Batch]]) -> None:
        self.client = redis.Redis.from_url(url)
        self.rounds = rounds

    async def listeners(self) -> int:
        """How many processes listen on the channel (the server under test: 1)."""
        counts = await self.client.pubsub_numsub(CONTROL)
        return int(dict(counts).get(CONTROL.encode(), 0))

    async def wait_listening(self, within: float = 15.0) -> None:
        deadline = time.monotonic() + within
        while await self.listeners() < 1:
            if time.monotonic() > deadline:
                raise BenchmarkError(f"live: nothing listens on the bus channel {CONTROL!r}")
            await asyncio.sleep(0.1)
        await self.client.ping()  # the connection is open before any clock starts

    async def publish(self, number: int) -> str:
        heard: list[int] = []
        for batch in self.rounds[number]:
            pipe = self.client.pipeline(transaction=False)
            for channel, message in batch:
                pipe.publish(channel, message)
            heard += await pipe.execute()
        size = sum(len(m) for batch in self.rounds[number] for _, m in batch) / 1024
        return (
            f"{len(heard)} PUBLISH in {len(self.rounds[number])} pipelines, {size:.0f} KB in all, "
            f"each heard by {min(heard)} listener(s)"
        )

    async def aclose(self) -> None:
        await self.client.aclose()


@contextlib.contextmanager
def profiled(pid: int, output: str) -> Iterator[None]:
    """With `output` (BENCH_LIVE_PROFILE), `py-spy record` (BENCH_PYSPY, else py-spy on PATH)
    samples `pid` in raw (collapsed stacks) format while the block runs."""
    if not output:
        yield
        return
    argv = [os.environ.get("BENCH_PYSPY", "py-spy"), "record", "-p", str(pid), "-o", output]
    spy = subprocess.Popen(
        [*argv, "--format", "raw", "--rate", "200", "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
