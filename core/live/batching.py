"""Batching by loop tick: every key asked for while the event loop runs one round of
callbacks is loaded with one call, as a DataLoader would, but without its cache and without
pulling a GraphQL library into the core."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TickBatch(Generic[K, V]):
    """`load(key)` waits for the batch its tick gathered; `batch(keys)` answers every key in
    the order given (a value per key, or raises, which every waiter of the batch then sees).
    Nothing is cached between ticks: each batch reads afresh."""

    def __init__(self, batch: Callable[[Sequence[K]], Awaitable[Sequence[V]]]) -> None:
        self._batch = batch
        self._pending: dict[K, list[asyncio.Future[V]]] | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def load(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        if self._pending is None:
            self._pending = {}
            loop.call_soon(self._dispatch)
        future: asyncio.Future[V] = loop.create_future()
        self._pending.setdefault(key, []).append(future)
        return await future

    def _dispatch(self) -> None:
        pending, self._pending = self._pending or {}, None
        task = asyncio.ensure_future(self._run(pending))
        self._running.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._running.discard)

    async def _run(self, pending: dict[K, list[asyncio.Future[V]]]) -> None:
        keys = list(pending)
        try:
            values = list(await self._batch(keys))
            if len(values) != len(keys):
                raise ValueError(f"a batch of {len(keys)} keys answered {len(values)} values")
        except Exception as error:  # every waiter of this batch gets the failure
            for futures in pending.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
            return
        for key, value in zip(keys, values, strict=True):
            for future in pending[key]:
                if not future.done():
                    future.set_result(value)
