"""Which Redis channels someone follows, as a publisher knows it: Redis's own answer to
`PUBSUB NUMSUB`, kept for `FOLLOW_TTL` seconds.

Why nothing is lost: an answer is dated from the moment the question was *sent*, so any
"nobody follows" is used only until `FOLLOW_TTL` after a moment that preceded Redis
answering it. A listener whose SUBSCRIBE Redis confirmed at C therefore may have events
skipped by a publisher only until C + `FOLLOW_TTL`; the listener (`RedisBus`) sends its
subscriptions on that channel a RESYNC `RESYNC_AFTER` seconds after it sees the confirmation
(later still), and they read back from the database what was committed meanwhile, as after
any gap. A skipped event was committed before the publisher decided to skip it, so before
that read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

FOLLOW_TTL = 1.0
# A margin over FOLLOW_TTL for clocks that tick at slightly different rates.
RESYNC_AFTER = FOLLOW_TTL * 1.5 + 0.1
# Beyond this many remembered channels, expired answers are forgotten.
PRUNE_ABOVE = 4096


class FollowCache:
    def __init__(
        self, ttl: float = FOLLOW_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._known: dict[str, tuple[float, bool]] = {}

    def unknown(self, channels: Iterable[str]) -> list[str]:
        """The channels with no answer younger than the TTL: to ask Redis about."""
        now = self.clock()
        return [c for c in channels if (k := self._known.get(c)) is None or k[0] <= now]

    def record(self, asked_at: float, counts: Mapping[str, int]) -> None:
        """Redis's subscriber counts, for a question sent at `asked_at` (this cache's clock)."""
        if len(self._known) > PRUNE_ABOVE:
            now = self.clock()
            self._known = {c: k for c, k in self._known.items() if k[0] > now}
        until = asked_at + self.ttl
        for channel, count in counts.items():
            self._known[channel] = (until, count > 0)

    def followed(self, channel: str) -> bool:
        """As last answered; True for a channel never asked about (publish rather than lose)."""
        known = self._known.get(channel)
        return known is None or known[1]

    def forget(self) -> None:
        """After a failure: ask afresh next time."""
        self._known.clear()
