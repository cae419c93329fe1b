"""The loop a background worker runs: rounds back to back while there is work, a nap when
there is none, cut short by a wake-up or by the stop. Shared by the delivery worker and the
webhook dispatcher."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence


async def run_rounds(
    round_once: Callable[[], Awaitable[int]],
    stop: asyncio.Event,
    wakeup: asyncio.Event,
    idle_sleep: float,
    log: logging.Logger,
    what: str,
) -> None:
    """Call `round_once` until `stop` is set. A round that did nothing (0) is followed by a
    sleep of `idle_sleep` seconds at most; `wakeup` ends it early. A failed round is logged
    (as "`what` round failed") and counts as idle: the rows it held stay leased."""
    while not stop.is_set():
        try:
            done = await round_once()
        except Exception:
            log.exception("%s round failed", what)
            done = 0
        if done:
            continue
        wakeup.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
        await asyncio.wait(waiters, timeout=idle_sleep, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()


async def stop_within(
    tasks: Sequence[asyncio.Task[None]], stop: asyncio.Event, seconds: float
) -> bool:
    """Set `stop`, give `tasks` up to `seconds` to finish the round in hand, then cancel what
    is still running. True when everything finished in time. A task's own failure is raised
    once all have ended, so a worker that crashed still exits with an error."""
    stop.set()
    if not tasks:
        return True
    _, pending = await asyncio.wait(tasks, timeout=seconds)
    for task in pending:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            raise result
    return not pending
