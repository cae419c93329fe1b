"""The live bus across processes: Redis pub/sub on one channel.

Every process publishes each batch of events as one message; every API process listens and
hands the events to its own subscribers. Pub/sub keeps nothing for a listener that is away,
so whenever the listener (re)subscribes after the first time, every local subscription gets
a RESYNC and catches up from the database, where the data was committed before publishing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import redis.asyncio as redis
from redis.exceptions import RedisError

from tidings.core.live.bus import LiveBus
from tidings.core.live.events import LiveEvent, decode, encode

logger = logging.getLogger("tidings.live")

CHANNEL = "tidings:live"
MAX_BACKOFF = 2.0


class RedisBus(LiveBus):
    def __init__(self, url: str, *, listen: bool = True, channel: str = CHANNEL) -> None:
        super().__init__()
        self._url = url
        self._listen = listen
        self.channel = channel
        self._client: redis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.reconnects = 0

    def __repr__(self) -> str:  # the URL may hold a password
        return f"<RedisBus channel={self.channel!r}>"

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(
                self._url, socket_connect_timeout=2, socket_keepalive=True, health_check_interval=15
            )
        return self._client

    async def start(self) -> None:
        if self._listen and self._task is None:
            self._task = asyncio.create_task(self._run(), name="tidings-live-listener")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        """Never raises: with Redis away the live copy is dropped (logged), and listeners
        catch up from the database when they are back."""
        if not events:
            return
        try:
            await self._redis().publish(self.channel, encode(events))
        except (RedisError, OSError) as error:
            logger.warning(
                "live bus: Redis unavailable, %d event(s) not published live (%s)",
                len(events),
                type(error).__name__,
            )

    async def _run(self) -> None:
        backoff = 0.1
        subscribed_before = False
        while True:
            pubsub = self._redis().pubsub()
            try:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    kind = message.get("type")
                    if kind == "subscribe":
                        # The first subscription starts the stream; any later one (redis-py
                        # re-subscribes by itself after a reconnect) or one after a failure
                        # follows a gap.
                        if subscribed_before:
                            self.reconnects += 1
                            logger.info("live bus: Redis is back; subscribers catch up")
                            self.hub.resync_all()
                        subscribed_before = True
                        backoff = 0.1
                        self.connected.set()
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
        await self.hub.deliver(events)
