"""Sockets per customer across API processes, in Redis.

Per customer, a sorted set `tidings:sockets:<customer id>` of its sockets
(`<process token>:<n>`), each scored with the moment it stops counting, on the Redis
server's clock. A process refreshes its own sockets every third of the TTL, so a killed
process's sockets stop counting within `TIDINGS_WS_SOCKET_TTL` seconds. Taking a slot is one
script (drop the expired, count, add): two processes cannot both take the last slot. When
Redis does not answer, the cap falls back to this process's own count (logged), rather than
refusing every customer or admitting any number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid

import redis.asyncio as redis
from redis.exceptions import RedisError

from tidings.core.live.socket_cap import LocalSocketCap, Release, TooManySockets, once

logger = logging.getLogger("tidings.live")

KEY_PREFIX = "tidings:sockets:"
REFRESH_CHUNK = 500

# KEYS[1]: the customer's set; ARGV: member, limit, ttl in ms. 1 when the slot was taken.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""
# KEYS: sets; ARGV[1]: ttl in ms, then one member per key. Refreshes members still present.
REFRESH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now + ttl, ARGV[i + 1])
  redis.call('PEXPIRE', key, ttl)
end
return #KEYS
"""


class RedisSocketCap:
    """Sockets per customer across processes, in Redis (see the module's docstring)."""

    def __init__(self, url: str, limit: int, ttl: float = 30.0) -> None:
        self.limit = limit
        self.ttl_ms = max(int(ttl * 1000), 1)
        self._url = url
        self._client: redis.Redis | None = None
        self._token = secrets.token_hex(6)
        self._serial = 0
        self._mine: dict[str, str] = {}  # member -> key, this process's sockets in Redis
        self.local = LocalSocketCap(limit)  # every socket here; the fallback's count too
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:  # the URL may hold a password
        return f"<RedisSocketCap limit={self.limit}>"

    def _redis(self) -> redis.Redis:
        if self._client is None:
            # Bounded: a storm of connecting sockets waits for a connection rather than
            # opening one each.
            pool = redis.BlockingConnectionPool.from_url(
                self._url, max_connections=16, timeout=5, socket_connect_timeout=2, socket_timeout=5
            )
            self._client = redis.Redis.from_pool(pool)  # closed with the client
        return self._client

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._heartbeat(), name="tidings-socket-cap")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._client.aclose()
            self._client = None

    async def acquire(self, customer_id: uuid.UUID) -> Release:
        key = f"{KEY_PREFIX}{customer_id}"
        self._serial += 1
        member = f"{self._token}:{self._serial}"
        try:
            taken = await self._redis().eval(ACQUIRE, 1, key, member, self.limit, self.ttl_ms)  # type: ignore[misc]
        except (RedisError, OSError) as error:
            logger.warning(
                "socket cap: Redis unavailable, counting this process's sockets only (%s)",
                type(error).__name__,
            )
            self.local.take(customer_id)  # TooManySockets past the per-process limit
            return once(self._local_release(customer_id))
        if not taken:
            raise TooManySockets
        self._mine[member] = key
        self.local.add(customer_id)
        return once(self._release(customer_id, key, member))

    def _local_release(self, customer_id: uuid.UUID) -> Release:
        async def release() -> None:
            self.local.give_back(customer_id)

        return release

    def _release(self, customer_id: uuid.UUID, key: str, member: str) -> Release:
        async def release() -> None:
            self._mine.pop(member, None)
            self.local.give_back(customer_id)
            try:
                await self._redis().zrem(key, member)
            except (RedisError, OSError) as error:  # it expires by itself
                logger.warning("socket cap: could not release a slot (%s)", type(error).__name__)

        return release

    async def refresh(self) -> int:
        """Push back the expiry of this process's sockets; how many were refreshed."""
        members = list(self._mine.items())
        for start in range(0, len(members), REFRESH_CHUNK):  # Redis serves others in between
            chunk = members[start : start + REFRESH_CHUNK]
            keys = [key for _, key in chunk]
            await self._redis().eval(  # type: ignore[misc]
                REFRESH, len(keys), *keys, self.ttl_ms, *(member for member, _ in chunk)
            )
        return len(members)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            try:
                await self.refresh()
            except (RedisError, OSError) as error:
                logger.warning("socket cap: heartbeat failed (%s)", type(error).__name__)
