"""Retry timing for failures that are the message's (or unclassified): capped exponential
backoff with full jitter, honouring a provider's retry-after, for as long as the budget lasts.

The budget is a duration (`TIDINGS_DELIVERY_RETRY_FOR`, 24 h by default), measured from the
delivery's creation, or from a staff retry (`retry_from`): real mail servers retry for days,
and a count of tries spends itself in minutes when they come quickly. `max_attempts`
(`TIDINGS_DELIVERY_MAX_ATTEMPTS`, when a deployment sets it) caps the tries as well. A
provider that is down spends neither: its circuit breaker holds the deliveries (breaker.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    retry_for: timedelta = timedelta(hours=24)
    max_attempts: int | None = None
    base_seconds: float = 5.0
    max_seconds: float = 3600.0

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds before attempt `attempt + 1`: uniform in [0, min(cap, base·2^(attempt-1))],
        but never sooner than the provider asked."""
        ceiling = min(self.max_seconds, self.base_seconds * (2 ** max(0, attempt - 1)))
        jittered = (rng or random).uniform(0, ceiling)
        if retry_after is not None:
            return max(jittered, float(retry_after))
        return jittered

    def exhausted(self, attempts: int, created_at: datetime, now: datetime) -> bool:
        """True when no further try is allowed: the budget is spent, or the attempt cap met."""
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return True
        return now - created_at >= self.retry_for

    def next_try(
        self, attempts: int, created_at: datetime, now: datetime, retry_after: float | None = None
    ) -> datetime | None:
        """When to try again, or None when the budget is spent. A try due after the budget's
        end is moved to its end, so the last chance is not lost to a long backoff."""
        if self.exhausted(attempts, created_at, now):
            return None
        at = now + timedelta(seconds=self.delay(attempts, retry_after))
        return min(at, max(now, created_at + self.retry_for))
