"""The live bus: publish events after their transaction commits; subscriptions in this
process receive the events of their topics.

`InProcessBus` is the embedded default (the API and its in-process worker share it).
`RedisBus` (`tidings.core.live.redis_bus`) carries events between processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence

from tidings.core.live.events import LiveEvent, resync_event

logger = logging.getLogger("tidings.live")

# A subscriber this far behind is told to catch up from the database instead.
DEFAULT_QUEUE_SIZE = 256


class LiveSubscription:
    """One subscriber's queue of events. When it overflows, the backlog is dropped and a
    single RESYNC takes its place: the subscriber reloads from the database, losing nothing."""

    __slots__ = ("_hub", "_queue", "topics")

    def __init__(self, hub: LocalHub, topics: frozenset[str], maxsize: int) -> None:
        self._hub = hub
        self.topics = topics
        self._queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize)

    def put(self, event: LiveEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(resync_event())

    async def get(self) -> LiveEvent:
        return await self._queue.get()

    def close(self) -> None:
        self._hub.remove(self)

    def __enter__(self) -> LiveSubscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalHub:
    """This process's subscriptions, by topic."""

    def __init__(self) -> None:
        self._topics: dict[str, set[LiveSubscription]] = {}
        self._all: set[LiveSubscription] = set()

    def open(self, topics: Iterable[str], maxsize: int = DEFAULT_QUEUE_SIZE) -> LiveSubscription:
        subscription = LiveSubscription(self, frozenset(topics), maxsize)
        for topic in subscription.topics:
            self._topics.setdefault(topic, set()).add(subscription)
        self._all.add(subscription)
        return subscription

    def remove(self, subscription: LiveSubscription) -> None:
        self._all.discard(subscription)
        for topic in subscription.topics:
            subscribers = self._topics.get(topic)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._topics[topic]

    def dispatch(self, events: Sequence[LiveEvent]) -> None:
        for event in events:
            for subscription in self._topics.get(event.topic, ()):
                subscription.put(event)

    def resync_all(self) -> None:
        event = resync_event()
        for subscription in self._all:
            subscription.put(event)

    def __len__(self) -> int:
        return len(self._all)


class LiveBus:
    """In process: a publish reaches this process's subscribers directly."""

    def __init__(self) -> None:
        self.hub = LocalHub()

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        """Call only after the transaction that made the change has committed."""
        if events:
            self.hub.dispatch(events)

    def subscribe(
        self, topics: Iterable[str], maxsize: int = DEFAULT_QUEUE_SIZE
    ) -> LiveSubscription:
        return self.hub.open(topics, maxsize)


InProcessBus = LiveBus
