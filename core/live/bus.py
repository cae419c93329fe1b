"""The live bus: publish events after their transaction commits; subscriptions in this
process receive the events of their topics.

`InProcessBus` is the embedded default (the API and its in-process worker share it).
`RedisBus` (`tidings.core.live.redis_bus`) carries events between processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from enum import Enum
from typing import Literal, TypeAlias

from tidings.core.live.events import LiveEvent, resync_event
from tidings.core.live.mailbox import Mailbox
from tidings.core.viewer import Viewer

logger = logging.getLogger("tidings.live")

# A subscriber this far behind is told to catch up from the database instead.
DEFAULT_QUEUE_SIZE = 256
# The hub's re-check of a batch's callers waits this long (seconds) for the database; then
# each subscriber checks for itself, in its own task, and the bus goes on listening.
CHECK_TIMEOUT = 5.0


class Unchecked(Enum):
    UNCHECKED = "unchecked"


# With each event, the subscription's caller as the hub re-checked it for that event (None:
# no longer allowed), or UNCHECKED: the subscription must check it itself.
UNCHECKED = Unchecked.UNCHECKED
Checked: TypeAlias = Viewer | Literal[Unchecked.UNCHECKED] | None
# Re-checks callers in one go: one answer per caller, in order.
CheckCallers: TypeAlias = Callable[[Sequence[Viewer]], Awaitable[list[Viewer | None]]]
# Sends an event to a subscriber at once, from the bus's own task, with its caller as the hub
# re-checked it: True when sent (or when the subscriber would have dropped it), False when
# the subscriber's own task must take it (see `LiveSubscription.direct`).
DirectSend: TypeAlias = Callable[[LiveEvent, Viewer], bool]


class LiveSubscription:
    """One subscriber's queue of events. When it overflows, the backlog is dropped and a
    single RESYNC takes its place: the subscriber reloads from the database, losing nothing.
    The queue is a `Mailbox`: a subscription held for days with nothing waiting in it costs
    no deque (an `asyncio.Queue` cost about 3 KB per subscriber)."""

    __slots__ = ("_events", "_hub", "_maxsize", "caller", "direct", "topics")

    def __init__(
        self, hub: LocalHub, topics: frozenset[str], maxsize: int, caller: Viewer | None
    ) -> None:
        self._hub = hub
        self.topics = topics
        self.caller = caller
        self._maxsize = maxsize
        self._events: Mailbox[tuple[LiveEvent, Checked]] = Mailbox()
        # Set by a subscriber that can send some events without waking its task: the hub
        # then hands it each re-checked event while its task waits with nothing queued, so
        # one task (the bus listener) writes the frames of a whole batch, in order.
        self.direct: DirectSend | None = None

    def offer(self, event: LiveEvent, checked: Checked) -> None:
        """`put`, unless the subscriber sends the event itself at once."""
        direct = self.direct
        if (
            direct is not None
            and checked is not None
            and checked is not UNCHECKED
            and self._events.idle()
            and direct(event, checked)
        ):
            return
        self.put(event, checked)

    def put(self, event: LiveEvent, checked: Checked = UNCHECKED) -> None:
        if self._maxsize > 0 and self._events.qsize() >= self._maxsize:
            self._hub.overflows += 1
            self._events.clear()
            self._events.put_nowait((resync_event(), UNCHECKED))
            return
        self._events.put_nowait((event, checked))

    def qsize(self) -> int:
        return self._events.qsize()

    async def get(self) -> tuple[LiveEvent, Checked]:
        return await self._events.get()

    def close(self) -> None:
        self._hub.remove(self)

    def __enter__(self) -> LiveSubscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalHub:
    """This process's subscriptions, by topic. With `check` set, `deliver` re-checks the
    callers of all the subscriptions a batch of events reaches in one go, so each
    subscriber need not query on its own.

    `deliver` runs in the bus's listener: whatever it awaits, every subscriber of the process
    waits for. So the re-check is bounded (`check_timeout`): a database that stalls (a lock,
    a pool with no free connection, a server that stopped answering) holds up only the
    subscribers' own checks, never the listener, which keeps reading the bus (Redis drops a
    pub/sub client that falls too far behind, and every subscriber would then resync)."""

    def __init__(self) -> None:
        self._topics: dict[str, set[LiveSubscription]] = {}
        self._all: set[LiveSubscription] = set()
        self.check: CheckCallers | None = None
        self.check_timeout = CHECK_TIMEOUT
        self.overflows = 0  # subscription queues that overflowed, since start
        self.check_timeouts = 0  # re-checks that gave up waiting for the database

    def depth(self) -> tuple[int, int]:
        """Events waiting in all queues, and in the fullest one."""
        sizes = [s.qsize() for s in self._all]
        return sum(sizes), max(sizes, default=0)

    def open(
        self,
        topics: Iterable[str],
        maxsize: int = DEFAULT_QUEUE_SIZE,
        caller: Viewer | None = None,
    ) -> LiveSubscription:
        subscription = LiveSubscription(self, frozenset(topics), maxsize, caller)
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
        """Hand the events on unchecked: each subscriber checks its caller itself."""
        for event in events:
            for subscription in self._topics.get(event.topic, ()):
                subscription.put(event)

    async def deliver(self, events: Sequence[LiveEvent]) -> None:
        """Hand the events on with their subscribers' callers re-checked, in one go."""
        reached = [(s, e) for e in events for s in tuple(self._topics.get(e.topic, ()))]
        callers = list({id(s.caller): s.caller for s, _ in reached if s.caller}.values())
        verdicts: dict[int, Viewer | None] = {}
        if self.check is not None and callers:
            try:
                async with asyncio.timeout(self.check_timeout):
                    answers = await self.check(callers)
                verdicts = {id(c): v for c, v in zip(callers, answers, strict=True)}
            except TimeoutError:  # each subscriber checks for itself, in its own task
                self.check_timeouts += 1
                logger.warning(
                    "live: re-checking %d caller(s) took over %.1fs; each checks for itself",
                    len(callers),
                    self.check_timeout,
                )
            except Exception:  # each subscriber checks for itself instead
                logger.exception("live: re-checking callers failed")
        for subscription, event in reached:
            caller = subscription.caller
            subscription.offer(event, verdicts.get(id(caller), UNCHECKED) if caller else UNCHECKED)

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
            await self.hub.deliver(events)

    def subscribe(
        self,
        topics: Iterable[str],
        maxsize: int = DEFAULT_QUEUE_SIZE,
        caller: Viewer | None = None,
    ) -> LiveSubscription:
        """`caller`: who is to be re-checked for each event (see `LocalHub.deliver`)."""
        return self.hub.open(topics, maxsize, caller)


InProcessBus = LiveBus
