"""Events read off the bus that the hub has not had yet, handed on as much at a time as has
gathered.

Publishers split each batch of events by channel (customer shards), so one batch arrives as
dozens of bus messages. Handed on one message at a time, each would cost the hub a caller
re-check query of its own; queued here, the hub takes whatever gathered while it handled the
last lot, in order, with one re-check for all of it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from tidings.core.live.events import LiveEvent
from tidings.core.live.mailbox import Flag

logger = logging.getLogger("tidings.live")

# Events handed to the hub in one go, at most.
DELIVER_BATCH = 5000
# Events waiting, at most: past this the reader stops reading until the hub catches up, and
# the bus (Redis) holds the rest, as it did before there was a queue.
MAX_PENDING = 50_000


class PendingEvents:
    def __init__(self, batch: int = DELIVER_BATCH, limit: int = MAX_PENDING) -> None:
        self._events: deque[LiveEvent] = deque()
        self._waiting = Flag()
        self._room = Flag(True)
        self._batch = batch
        self._limit = limit
        self.handed = 0  # lots handed on, since start

    def __len__(self) -> int:
        return len(self._events)

    async def add(self, events: Sequence[LiveEvent]) -> None:
        """Queue `events`; waits while the queue is full."""
        self._events.extend(events)
        self._waiting.set()
        if len(self._events) >= self._limit:
            self._room.clear()
            await self._room.wait()

    async def run(
        self,
        deliver: Callable[[Sequence[LiveEvent]], Awaitable[None]],
        on_failure: Callable[[], None],
    ) -> None:
        """Hand the queue on to `deliver`, forever. A lot that fails is logged and
        `on_failure` called (its subscribers catch up from the database); the next goes on."""
        events = self._events
        while True:
            await self._waiting.wait()
            self._waiting.clear()
            while events:
                if len(events) <= self._batch:
                    lot = list(events)
                    events.clear()
                else:
                    lot = [events.popleft() for _ in range(self._batch)]
                if len(events) < self._limit // 2:
                    self._room.set()
                self.handed += 1
                try:
                    await deliver(lot)
                except Exception:
                    logger.exception("live bus: handing %d event(s) on failed", len(lot))
                    on_failure()
            self._room.set()
