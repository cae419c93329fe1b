"""The live bus across processes: Redis pub/sub on per-topic channels.

Topics map onto channels by customer shard and by message (`tidings.core.live.channels`).
A publisher splits each batch by channel, leaves out the channels nobody follows
(`tidings.core.live.following`) and publishes the rest in one pipeline. An API process
SUBSCRIBEs, on its one pub/sub connection, to the channels its own subscriptions need: when
the first local subscription of a channel opens, and UNSUBSCRIBEs when the last one closes.
It also always follows a control channel, so the connection (and its loss) is known even
with no subscription open.

Pub/sub keeps nothing for a listener that is away, so whenever the listener reconnects every
local subscription gets a RESYNC and catches up from the database, where the data was
committed before publishing; and whenever Redis confirms a channel subscription, that
channel's subscriptions get a RESYNC once no publisher can still hold a "nobody follows"
answer from before it (`following.RESYNC_AFTER`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from tidings.core.live.bus import LiveBus
from tidings.core.live.channels import PREFIX, by_channel
from tidings.core.live.events import LiveEvent, decode, encode
from tidings.core.live.following import RESYNC_AFTER, FollowCache
from tidings.core.live.pending import PendingEvents
from tidings.core.live.topic_hub import ChannelHub

logger = logging.getLogger("tidings.live")

MAX_BACKOFF = 2.0


@dataclass
class PublishCounts:
    """What this process put on Redis, for tests and the benchmark."""

    messages: int = 0
    bytes: int = 0
    events: int = 0
    skipped_events: int = 0  # on channels nobody followed
    numsub_queries: int = 0


class RedisBus(LiveBus):
    def __init__(
        self,
        url: str,
        *,
        listen: bool = True,
        prefix: str = PREFIX,
        resync_after: float = RESYNC_AFTER,
    ) -> None:
        super().__init__()
        self._url = url
        self._listen = listen
        self.prefix = prefix
        self.control = f"{prefix}:ctl"
        self.hub = ChannelHub(prefix, self._follow, self._unfollow)
        self.follows = FollowCache()
        self.published = PublishCounts()
        self._resync_after = resync_after
        self._client: redis.Redis | None = None
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._dirty: set[str] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        # Read off Redis, waiting for the hub (`tidings.core.live.pending`).
        self.pending = PendingEvents()
        self._deliverer: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.reconnects = 0

    def __repr__(self) -> str:  # the URL may hold a password
        return f"<RedisBus prefix={self.prefix!r}>"

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(
                self._url, socket_connect_timeout=2, socket_keepalive=True, health_check_interval=15
            )
        return self._client

    async def start(self) -> None:
        if self._listen and self._task is None:
            self._task = asyncio.create_task(self._run(), name="tidings-live-listener")
            self._deliverer = asyncio.create_task(
                self.pending.run(self.hub.deliver, self.hub.resync_all),
                name="tidings-live-deliverer",
            )

    async def aclose(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for task in (self._flusher, self._task, self._deliverer):
            if task is None:
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = self._flusher = self._deliverer = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def followed_channels(self) -> frozenset[str]:
        """The channels this process's subscriptions need (subscribed, or about to be)."""
        return self.hub.channels()

    # Publishing ---------------------------------------------------------------------------

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        """Never raises: with Redis away the live copy is dropped (logged), and listeners
        catch up from the database when they are back."""
        if not events:
            return
        parts = by_channel(events, self.prefix)
        try:
            client = self._redis()
            unknown = self.follows.unknown(parts)
            if unknown:
                asked = self.follows.clock()
                counts = await client.pubsub_numsub(*unknown)
                self.published.numsub_queries += 1
                self.follows.record(asked, {_text(c): int(n) for c, n in counts})
            pipe = client.pipeline(transaction=False)
            sent = 0
            for channel, part in parts.items():
                if not self.follows.followed(channel):
                    self.published.skipped_events += len(part)
                    continue
                payload = encode(part)
                pipe.publish(channel, payload)
                sent += 1
                self.published.messages += 1
                self.published.bytes += len(payload.encode())
                self.published.events += len(part)
            if sent:
                await pipe.execute()
        except (RedisError, OSError) as error:
            self.follows.forget()
            logger.warning(
                "live bus: Redis unavailable, %d event(s) not published live (%s)",
                len(events),
                type(error).__name__,
            )

    # Listening ----------------------------------------------------------------------------

    def _follow(self, channel: str) -> None:
        self._changed(channel)

    def _unfollow(self, channel: str) -> None:
        self._changed(channel)

    def _changed(self, channel: str) -> None:
        """Bring the channel's SUBSCRIBE state in line with the hub, soon and in order: one
        task at a time sends the SUBSCRIBEs and UNSUBSCRIBEs gathered meanwhile."""
        self._dirty.add(channel)
        if self._pubsub is not None and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        while self._dirty and self._pubsub is not None:
            pubsub = self._pubsub
            dirty, self._dirty = self._dirty, set()
            wanted = self.hub.channels()
            on = sorted(c for c in dirty if c in wanted)
            off = sorted(c for c in dirty if c not in wanted and c != self.control)
            try:
                if on:
                    await pubsub.subscribe(*on)
                if off:
                    await pubsub.unsubscribe(*off)
            except (RedisError, OSError) as error:
                # The listener meets the failure too, reconnects and subscribes to every
                # channel followed then.
                logger.warning("live bus: (un)subscribing failed (%s)", type(error).__name__)
                return

    def _confirmed(self, channel: str) -> None:
        """A channel subscription is live: its subscriptions catch up once every publisher's
        "nobody follows" from before it has expired."""
        if channel == self.control:
            return
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def resync() -> None:
            self._timers.discard(handle)  # type: ignore[arg-type]
            self.hub.resync_channel(channel)

        handle = loop.call_later(self._resync_after, resync)
        self._timers.add(handle)

    async def _run(self) -> None:
        backoff = 0.1
        subscribed_before = False
        while True:
            pubsub = self._redis().pubsub()
            try:
                self._dirty.clear()  # all of them, in this SUBSCRIBE
                await pubsub.subscribe(self.control, *self.hub.channels())
                self._pubsub = pubsub
                # Followed or left while that SUBSCRIBE was on its way: reconcile.
                subscribed = {_text(c) for c in pubsub.channels} - {self.control}
                for channel in subscribed ^ self.hub.channels():
                    self._changed(channel)
                async for message in pubsub.listen():
                    kind = message.get("type")
                    if kind == "subscribe":
                        channel = _text(message["channel"])
                        if channel == self.control:
                            # The first subscription starts the stream; any later one
                            # (redis-py re-subscribes by itself after a reconnect) or one
                            # after a failure follows a gap.
                            if subscribed_before:
                                self.reconnects += 1
                                logger.info("live bus: Redis is back; subscribers catch up")
                                self.hub.resync_all()
                            subscribed_before = True
                            backoff = 0.1
                            self.connected.set()
                        else:
                            self._confirmed(channel)
                    elif kind == "message":
                        await self._dispatch(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                # Events may be published (and lost) while away, even before the first
                # subscription: whenever this comes back, subscribers catch up.
                subscribed_before = True
                self.connected.clear()
                logger.warning(
                    "live bus: lost Redis (%s); retrying in %.1fs", type(error).__name__, backoff
                )
            finally:
                self._pubsub = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _dispatch(self, payload: bytes | str) -> None:
        try:
            events = decode(payload)
        except ValueError:
            logger.warning("live bus: dropped a message that is not a batch of events")
            return
        await self.pending.add(events)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
