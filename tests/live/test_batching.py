"""The caller check's batching: one call per loop tick, nothing cached across ticks."""

from __future__ import annotations

import asyncio

import pytest

from tidings.core.live.batching import TickBatch


async def test_keys_of_one_tick_share_one_call_and_later_ticks_read_again() -> None:
    calls: list[list[int]] = []

    async def double(keys):
        calls.append(list(keys))
        return [k * 2 for k in keys]

    batch = TickBatch(double)
    assert await asyncio.gather(batch.load(1), batch.load(2), batch.load(1)) == [2, 4, 2]
    assert await batch.load(1) == 2
    assert calls == [[1, 2], [1]]


async def test_a_failed_batch_fails_each_of_its_waiters() -> None:
    async def broken(keys):
        raise RuntimeError("database gone")

    batch = TickBatch(broken)
    results = await asyncio.gather(batch.load(1), batch.load(2), return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]


async def test_a_batch_answering_the_wrong_number_of_values_is_an_error() -> None:
    async def short(keys):
        return []

    with pytest.raises(ValueError, match="answered 0 values"):
        await TickBatch(short).load(1)
