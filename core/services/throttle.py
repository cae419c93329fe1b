"""Sign-in throttling: exponential backoff per account and per client address.

Every failed sign-in adds one to two counters, "account:<keyed hash of the email>" and
"ip:<client address>", kept in the database so that every process agrees. The first
`free` failures cost nothing; after that each key is blocked for 1 s, 2 s, 4 s ... after
its last failure, at most `max_delay`. A blocked attempt is refused before the password is
checked (no argon2 work, nothing learnt). A success deletes the account's counter; the
address's counter stays, so one good account does not clear a guessing run from its host.
A counter whose last failure is older than `forget_after` (a day) is forgotten, deleted by
the next failure anywhere: the table holds about a day of failures, and an old typo does
not count against a member months later.

The count is one atomic `UPDATE ... SET failures = failures + 1` per key, so concurrent
wrong attempts are all counted on PostgreSQL and on SQLite alike. Attempts already past the
check when the block begins finish (argon2 bounds how many run at once); the next is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from tidings.core.keys import derive_key
from tidings.core.models import LoginThrottle

_KEY_LABEL = b"tidings sign-in throttle v1"
DEFAULT_FREE_ATTEMPTS = 5
DEFAULT_MAX_DELAY = 15 * 60  # seconds
FORGET_AFTER = timedelta(days=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Throttled:
    """A refused attempt: which counters block it, and for how many more seconds."""

    retry_after: int
    scopes: tuple[str, ...]  # "account", "ip"


def backoff(failures: int, free: int, max_delay: int) -> int:
    """Seconds a key stays blocked after its `failures`-th failure: 0 while free, then
    1, 2, 4, ... capped at `max_delay`."""
    if failures <= free:
        return 0
    return min(2 ** min(failures - free - 1, 62), max_delay)


class SignInThrottle:
    """The counters, with the clock as a parameter so tests move time instead of sleeping."""

    def __init__(
        self,
        secret_key: str,
        *,
        free: int = DEFAULT_FREE_ATTEMPTS,
        max_delay: int = DEFAULT_MAX_DELAY,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._key = derive_key(secret_key, _KEY_LABEL)
        self.free = free
        self.max_delay = max_delay
        self.clock = clock
        # Never before a block has run out.
        self.forget_after = max(FORGET_AFTER, timedelta(seconds=max_delay))

    def __repr__(self) -> str:
        return f"<SignInThrottle free={self.free} max_delay={self.max_delay}>"

    def account_key(self, email: str) -> str:
        digest = hmac.new(self._key, email.strip().lower().encode(), hashlib.sha256)
        return "account:" + digest.hexdigest()

    def keys(self, email: str, ip: str | None) -> dict[str, str]:
        """scope → counter key for one attempt; no address, no address counter."""
        keys = {"account": self.account_key(email)}
        if ip:
            keys["ip"] = "ip:" + ip[:100]
        return keys

    async def check(self, keys: dict[str, str]) -> Throttled | None:
        """Whether an attempt under these keys must wait; one query."""
        now = self.clock()
        rows = await LoginThrottle.filter(
            key__in=list(keys.values()), failures__gt=self.free
        ).values_list("key", "failures", "last_failure_at")
        waits: dict[str, float] = {}
        for key, failures, last in rows:
            until = last + timedelta(seconds=backoff(failures, self.free, self.max_delay))
            left = (until - now).total_seconds()
            if left > 0:
                waits[key] = left
        if not waits:
            return None
        scopes = tuple(scope for scope, key in keys.items() if key in waits)
        return Throttled(max(1, math.ceil(max(waits.values()))), scopes)

    async def failed(self, keys: dict[str, str]) -> None:
        """Count one failure under every key."""
        now = self.clock()
        await LoginThrottle.filter(last_failure_at__lt=now - self.forget_after).delete()
        for key in keys.values():
            await self._bump(key, now)

    async def succeeded(self, keys: dict[str, str]) -> None:
        """A right password: the account's counter starts again."""
        if "account" in keys:
            await LoginThrottle.filter(key=keys["account"]).delete()

    async def failures(self, key: str) -> int:
        found = await LoginThrottle.filter(key=key).values_list("failures", flat=True)
        return found[0] if found else 0

    async def _bump(self, key: str, now: datetime) -> None:
        for _ in range(3):
            updated = await LoginThrottle.filter(key=key).update(
                failures=F("failures") + 1, last_failure_at=now
            )
            if updated:
                return
            try:
                await LoginThrottle.create(key=key, failures=1, last_failure_at=now)
                return
            except IntegrityError:
                continue  # another process created it first: count on its row
