"""The live benchmark run again and again on one server: wave 1 saw 2 of 13 full-size runs
stall (once nothing delivered, once every socket waiting for connection_ack), so `make bench`
repeats the live measure (BENCH_LIVE_REPEATS, 10 by default) and reports every stall.

A stall is a wait that made no progress for BENCH_LIVE_STALL seconds (30): a handshake without
its connection_ack, or a round in which no further socket got its frame. Nothing waits
forever: each wait names what it was waiting for when it gives up.

With BENCH_LIVE_SOAK=1 the repetitions after the first meet trouble in turn, as a
production service does: Redis paused (`CLIENT PAUSE`), a PostgreSQL lock held on the
customers table during a connect storm, the server's PostgreSQL connections terminated,
clients that vanish without closing, and clients that stop reading. Every repetition opens
all its sockets at once after the last one closed them: a connect storm. Only the
benchmark's own Redis and scratch database are touched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import redis.asyncio as redis

from bench.customers_page import progress

PAUSE_MS = 3000
LOCK_SECONDS = 3.0
VANISH_SHARE = 0.05


@dataclass(frozen=True)
class Fault:
    """Trouble for one repetition: `during_connect` runs beside the connect storm,
    `before_round` just before the first round's trigger; `vanish` sockets go before it."""

    name: str
    during_connect: Callable[[], Awaitable[None]] | None = None
    before_round: Callable[[], Awaitable[None]] | None = None
    vanish: float = 0.0
    slow: bool = False  # the vanishing clients stay connected and stop reading instead


NONE = Fault("none")


def faults(database_url: str, redis_url: str) -> list[Fault]:
    """The soak's trouble, in the order the repetitions meet it."""

    async def pause_redis() -> None:
        client = redis.Redis.from_url(redis_url)
        try:
            await client.execute_command("CLIENT", "PAUSE", str(PAUSE_MS), "ALL")
        finally:
            await client.aclose()

    async def lock_customers() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
                await asyncio.sleep(LOCK_SECONDS)
        finally:
            await conn.close()

    async def terminate_backends() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await asyncio.sleep(0.5)  # into the storm
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await conn.close()

    return [
        Fault(f"Redis CLIENT PAUSE {PAUSE_MS} ms before a round", before_round=pause_redis),
        Fault(
            f"PostgreSQL lock on customers for {LOCK_SECONDS:.0f} s in the connect storm",
            during_connect=lock_customers,
        ),
        Fault("the server's PostgreSQL connections terminated", during_connect=terminate_backends),
        Fault(f"{VANISH_SHARE:.0%} of clients vanish before a round", vanish=VANISH_SHARE),
        Fault(
            f"{VANISH_SHARE:.0%} of clients stop reading before a round",
            vanish=VANISH_SHARE,
            slow=True,
        ),
    ]


def plan(repeats: int, soak: list[Fault] | None) -> list[Fault]:
    """The first repetition is always clean (its figures are the table's); with `soak`,
    the others take its faults in turn."""
    if not soak:
        return [NONE] * repeats
    return [NONE] + [soak[i % len(soak)] for i in range(repeats - 1)]


@contextlib.asynccontextmanager
async def beside(work: Callable[[], Awaitable[None]] | None) -> AsyncIterator[None]:
    """Runs `work` while the block runs; its failure is reported, not raised."""
    if work is None:
        yield
        return
    task = asyncio.create_task(work())
    try:
        yield
    finally:
        try:
            await asyncio.wait_for(task, 60)
        except Exception as error:  # the fault's own trouble, not the server's
            progress(f"live soak: the fault itself failed: {type(error).__name__}: {error}")
