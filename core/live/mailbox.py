"""Small waitable primitives for objects held once per websocket, where memory counts.

An `asyncio.Queue` holds four deques (its items, getters, putters and a `finished` Event's
waiters) and an `asyncio.Event` one: about 3 KB and 0.8 KB per instance, allocated up front
and idle nearly all the time. A live socket held two queues and an event of that kind. These
allocate a container only while something waits in it, and give it back once it empties.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Mailbox(Generic[T]):
    """An unbounded FIFO with the part of `asyncio.Queue`'s interface its users need
    (`put_nowait`, `get`, `get_nowait`, `empty`, `qsize`). Getters are served in order."""

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: deque[T] | None = None
        self._getters: asyncio.Future[None] | list[asyncio.Future[None]] | None = None

    def qsize(self) -> int:
        return len(self._items) if self._items is not None else 0

    def empty(self) -> bool:
        return not self._items

    def idle(self) -> bool:
        """Nothing waits in it and a getter waits on it: whoever reads it has finished with
        everything put before."""
        return not self._items and self._getters is not None

    def put_nowait(self, item: T) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        self._wake_one()

    def get_nowait(self) -> T:
        items = self._items
        if not items:
            raise asyncio.QueueEmpty
        item = items.popleft()
        if not items:
            self._items = None
        return item

    def clear(self) -> None:
        self._items = None

    async def get(self) -> T:
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            self._add_getter(waiter)
            try:
                await waiter
            except BaseException:
                self._forget(waiter)
                if self._items and not waiter.cancelled():
                    self._wake_one()  # it was woken for an item it will not take
                raise
            self._forget(waiter)
        return self.get_nowait()

    # One getter (the usual case: the socket's or the subscription's own task) is kept as it
    # is; a list only when several wait at once.
    def _add_getter(self, waiter: asyncio.Future[None]) -> None:
        getters = self._getters
        if getters is None:
            self._getters = waiter
        elif isinstance(getters, list):
            getters.append(waiter)
        else:
            self._getters = [getters, waiter]

    def _waiting(self) -> list[asyncio.Future[None]]:
        getters = self._getters
        if getters is None:
            return []
        return getters if isinstance(getters, list) else [getters]

    def _wake_one(self) -> None:
        for waiter in self._waiting():
            if not waiter.done():
                waiter.set_result(None)
                return

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        getters = self._getters
        if getters is waiter:
            self._getters = None
        elif isinstance(getters, list):
            if waiter in getters:
                getters.remove(waiter)
            if not getters:
                self._getters = None


class Flag:
    """`asyncio.Event`'s `set`, `clear`, `is_set` and `wait`, with no deque until a waiter."""

    __slots__ = ("_set", "_waiters")

    def __init__(self, value: bool = False) -> None:
        self._set = value
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if self._set:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None
        return True
