"""The lean waitables that per-socket objects hold instead of asyncio's Queue and Event."""

from __future__ import annotations

import asyncio

import pytest

from tidings.core.live.mailbox import Flag, Mailbox


async def test_a_mailbox_hands_items_over_in_order_and_keeps_no_deque_when_empty() -> None:
    box: Mailbox[int] = Mailbox()
    getter = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    box.put_nowait(1)
    box.put_nowait(2)
    assert await getter == 1
    assert box.qsize() == 1
    assert await box.get() == 2
    assert box.empty()
    assert box._items is None and box._getters is None


async def test_a_cancelled_getter_passes_its_wake_up_on() -> None:
    box: Mailbox[str] = Mailbox()
    first = asyncio.create_task(box.get())
    second = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    box.put_nowait("only")
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 1) == "only"
    with pytest.raises(asyncio.QueueEmpty):
        box.get_nowait()


async def test_a_flag_wakes_its_waiters_and_lets_them_go() -> None:
    flag = Flag(True)
    assert await flag.wait()
    flag.clear()
    waiter = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    flag.set()
    assert await asyncio.wait_for(waiter, 1)
    assert flag._waiters is None
