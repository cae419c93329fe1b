"""Retry timing: exponential backoff with full jitter, honouring a provider's retry-after."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
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

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
