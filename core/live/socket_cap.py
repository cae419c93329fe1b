"""How many websockets one customer may hold (close 4429 beyond): the interface, and
`LocalSocketCap`, which counts this process's sockets only (the embedded default, with no
Redis). `tidings.core.live.redis_socket_cap` counts across API processes.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Protocol

Release = Callable[[], Awaitable[None]]


class TooManySockets(Exception):
    """The customer already holds its allowance of sockets."""


class SocketCap(Protocol):
    limit: int

    async def acquire(self, customer_id: uuid.UUID) -> Release:
        """Take one of the customer's slots; raises TooManySockets when none is left. The
        answer gives the slot back, once."""
        ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class LocalSocketCap:
    """Sockets per customer on this process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[uuid.UUID] = Counter()

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def acquire(self, customer_id: uuid.UUID) -> Release:
        self.take(customer_id)

        async def release() -> None:
            self.give_back(customer_id)

        return once(release)

    def take(self, customer_id: uuid.UUID) -> None:
        if self._open[customer_id] >= self.limit:
            raise TooManySockets
        self._open[customer_id] += 1

    def add(self, customer_id: uuid.UUID) -> None:
        """Count a socket admitted elsewhere (by Redis), for the fallback's count."""
        self._open[customer_id] += 1

    def give_back(self, customer_id: uuid.UUID) -> None:
        self._open[customer_id] -= 1
        if self._open[customer_id] <= 0:
            del self._open[customer_id]

    def __getitem__(self, customer_id: uuid.UUID) -> int:
        return self._open.get(customer_id, 0)


def once(release: Release) -> Release:
    done = False

    async def once() -> None:
        nonlocal done
        if not done:
            done = True
            await release()

    return once
