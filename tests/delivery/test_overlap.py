"""A round's tier expansion beside its deliveries (core/delivery/overlap.py): each committed
batch is sent while the next is decided; a failure cancels the expansion."""

from __future__ import annotations

import asyncio

import pytest

from tidings.core.delivery.overlap import expand_beside


async def test_each_committed_batch_is_sent_while_the_next_is_expanded():
    due: list[int] = []
    sent: list[int] = []
    handled = {n: asyncio.Event() for n in range(3)}

    async def expand(deadline, on_batch):
        for n in range(3):
            due.append(n)  # batch n committed
            on_batch()
            # The next batch waits until this one has gone out: run one after the other,
            # this would never return.
            await handled[n].wait()
        return 3

    async def process(left):
        got, due[:] = list(due), []
        for n in got:
            sent.append(n)
            handled[n].set()
        return len(got)

    assert await asyncio.wait_for(expand_beside(expand, process, 30, None), 5) == 6
    assert sent == [0, 1, 2]


async def test_a_failed_round_cancels_the_expansion():
    cancelled = asyncio.Event()

    async def expand(deadline, on_batch):
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 0

    async def process(left):
        await asyncio.sleep(0)
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        await expand_beside(expand, process, 30, None)
    assert cancelled.is_set()


async def test_a_stop_ends_the_round_once_the_expansion_in_hand_is_done():
    stop = asyncio.Event()
    calls: list[float] = []

    async def expand(deadline, on_batch):
        stop.set()  # a SIGTERM arrives mid-round, as a batch commits
        on_batch()
        await asyncio.sleep(0.2)  # the expansion in hand goes on a while
        return 5

    async def process(left):
        calls.append(left)
        await asyncio.sleep(0)
        return 0

    assert await asyncio.wait_for(expand_beside(expand, process, 30, stop), 5) == 5
    # A batch was committed and the expansion still ran: only the stop kept the round from
    # sending again.
    assert len(calls) == 1
