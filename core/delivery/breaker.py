"""A circuit breaker per provider: stop feeding a provider that is down, probe it, and hand
it the waiting deliveries at a steady rate once it answers again.

A provider is down when it answers `ProviderUnavailableError` (connection refused, a timeout,
SMTP 421, an HTTP API's 5xx): the failure is the provider's, not the message's. After
`failure_threshold` such answers in a row the breaker opens; the deliveries it was given,
and every later one, wait (QUEUED, `not_before` pushed, no attempt spent). When the probe
time comes, one delivery is let through (half-open): if the provider answers (anything but
unavailable, a refusal of that message included) the breaker closes; if not, it opens again
with the probe interval doubled, up to `max_probe_interval`. For `release_for` seconds after
closing it admits `release_rate` deliveries a second, so a backlog reaches a relay that has
just come back as a steady stream rather than all at once.

State lives in the worker process: with several workers each keeps its own breakers and
probes on its own, which costs a few probes more and needs no shared store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

Clock = Callable[[], float]


class BreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerOptions:
    """Seconds throughout; rates in deliveries per second."""

    failure_threshold: int = 3
    probe_after: float = 5.0
    max_probe_interval: float = 300.0
    release_rate: float = 50.0
    release_for: float = 60.0


class CircuitBreaker:
    """One provider's breaker. `admit` before sending, `record` with what the provider said."""

    def __init__(self, options: BreakerOptions | None = None, clock: Clock = time.monotonic):
        self.options = options or BreakerOptions()
        self.clock = clock
        self.state = BreakerState.CLOSED
        self.failures = 0  # unavailable answers in a row
        self.interval = self.options.probe_after
        self.probe_at = 0.0  # OPEN: when the next probe may go; HALF_OPEN: when it went
        self.release_until = 0.0
        self.tokens = 0.0
        self.refilled = 0.0

    def admit(self, wanted: int) -> int:
        """How many of `wanted` deliveries may be handed to the provider now (the first ones)."""
        if wanted <= 0:
            return 0
        now = self.clock()
        if self.state is BreakerState.HALF_OPEN:
            # A probe is out. If it never reported (its worker round failed), probe again.
            if now - self.probe_at < self.options.max_probe_interval:
                return 0
            self.probe_at = now
            return 1
        if self.state is BreakerState.OPEN:
            if now < self.probe_at:
                return 0
            self.state, self.probe_at = BreakerState.HALF_OPEN, now
            return 1
        if now >= self.release_until:
            return wanted
        rate = self.options.release_rate
        self.tokens = min(rate, self.tokens + (now - self.refilled) * rate)
        self.refilled = now
        granted = min(wanted, int(self.tokens))
        self.tokens -= granted
        return granted

    def record(self, answered: int, unavailable: int) -> None:
        """What the provider said to the deliveries admitted: `answered` got an answer of any
        kind (accepted or refused), `unavailable` found it down."""
        now = self.clock()
        if answered > 0:
            self.failures = 0
            if self.state is not BreakerState.CLOSED:
                self.state = BreakerState.CLOSED
                self.interval = self.options.probe_after
                self.release_until = now + self.options.release_for
                self.tokens, self.refilled = 0.0, now
            return
        if unavailable <= 0:
            return
        self.failures += unavailable
        if self.state is BreakerState.HALF_OPEN:
            self.interval = min(self.interval * 2, self.options.max_probe_interval)
            self._open(now)
        elif self.state is BreakerState.CLOSED and self.failures >= self.options.failure_threshold:
            self._open(now)

    def _open(self, now: float) -> None:
        self.state = BreakerState.OPEN
        self.probe_at = now + self.interval
        self.release_until = 0.0

    def wait(self, position: int = 0) -> float:
        """Seconds a delivery held back now should wait before it is claimed again; `position`
        spreads a backlog over the steady release (the n-th waits n / rate)."""
        now = self.clock()
        if self.state is BreakerState.OPEN:
            return max(0.0, self.probe_at - now)
        if self.state is BreakerState.HALF_OPEN:
            return self.interval
        if now < self.release_until:
            return (position + 1) / self.options.release_rate
        return self.options.probe_after  # down, but not yet often enough to open


class Breakers:
    """The breakers of one worker, one per provider name, made on first use."""

    def __init__(self, options: BreakerOptions | None = None, clock: Clock = time.monotonic):
        self.options = options or BreakerOptions()
        self.clock = clock
        self._by_provider: dict[str, CircuitBreaker] = {}

    def __getitem__(self, provider: str) -> CircuitBreaker:
        breaker = self._by_provider.get(provider)
        if breaker is None:
            breaker = self._by_provider[provider] = CircuitBreaker(self.options, self.clock)
        return breaker
