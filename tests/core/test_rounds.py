"""`stop_within`: how a background loop is stopped, with real tasks on the event loop."""

from __future__ import annotations

import asyncio

import pytest

from tidings.core.rounds import stop_within


async def test_tasks_that_heed_the_stop_finish_in_time():
    stop = asyncio.Event()
    finished = []

    async def loop() -> None:
        await stop.wait()
        finished.append(True)

    task = asyncio.create_task(loop())
    assert await stop_within([task], stop, 30) is True
    assert finished == [True] and stop.is_set()


async def test_a_task_still_busy_at_the_deadline_is_cancelled():
    stop = asyncio.Event()
    busy = asyncio.Event()
    cancelled = []

    async def stuck() -> None:
        try:
            busy.set()
            await asyncio.Event().wait()  # a provider that never answers
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    task = asyncio.create_task(stuck())
    await busy.wait()
    assert await stop_within([task], stop, 0.05) is False
    assert cancelled == [True] and task.cancelled()


async def test_a_task_that_failed_by_itself_fails_the_stop():
    stop = asyncio.Event()

    async def broken() -> None:
        raise ValueError("the provider's settings")

    task = asyncio.create_task(broken())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="provider's settings"):
        await stop_within([task], stop, 30)


async def test_nothing_to_stop():
    stop = asyncio.Event()
    assert await stop_within([], stop, 1) is True
    assert stop.is_set()
