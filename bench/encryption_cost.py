"""What encrypting personal data at rest costs B1 (fan-out) and B2 (customers(first: 100)
with PII), measured in the same run: the time spent in AES-GCM, base64 and the blind-index
HMAC is added up (bench/sealed.py `TimedKeyring`) while the benchmark's own work runs, and
set beside the same run without it. The issue's goal: at most 15% more.

What this leaves out, and says so: larger rows (ciphertext is about 1.4x the text) and TEXT
instead of JSONB for attributes change the database's share only slightly; the figure is the
processor time the service itself spends on encryption."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench import sealed

GOAL = 0.15


@dataclass(frozen=True)
class EncryptionCost:
    name: str
    seconds: float  # the benchmark's run, with encryption
    crypto_seconds: float  # of which in the keyring
    calls: int
    units: int  # pages or deliveries
    unit: str

    @property
    def share(self) -> float:
        """The cost relative to the run without encryption."""
        without = self.seconds - self.crypto_seconds
        return self.crypto_seconds / without if without > 0 else 0.0

    def rows(self) -> list[tuple[str, str, str, str]]:
        per = 1000 / self.units if self.units else 0.0
        return [
            (
                f"{self.name} encryption: ms per {self.unit}",
                f"{self.seconds * per:.3f}",
                f"{(self.seconds - self.crypto_seconds) * per:.3f}",
                f"{1 + self.share:.2f}x",
            )
        ]

    def describe(self) -> str:
        return (
            f"- {self.name} encryption: ours = with AES-256-GCM personal data "
            f"({self.calls:,} keyring calls, {self.crypto_seconds * 1000:.1f} ms of "
            f"{self.seconds * 1000:.1f} ms over {self.units:,} of them, a {self.unit} each); "
            "baseline = the "
            "same run less the time spent in the keyring."
        )

    def goal(self) -> str:
        verdict = "MET" if self.share <= GOAL else "NOT MET"
        return (
            f"Goal (encryption costs {self.name} at most {GOAL:.0%}): {verdict}: {self.share:.1%}."
        )


async def measure(
    name: str, work: Callable[[], Awaitable[object]], rounds: int, unit: str
) -> EncryptionCost:
    """Run `work` `rounds` times after one warm-up, timing the keyring meanwhile."""
    await work()
    before_seconds, before_calls = sealed.TimedKeyring.seconds, sealed.TimedKeyring.calls
    started = time.perf_counter()
    for _ in range(rounds):
        await work()
    seconds = time.perf_counter() - started
    return EncryptionCost(
        name,
        seconds,
        sealed.TimedKeyring.seconds - before_seconds,
        sealed.TimedKeyring.calls - before_calls,
        rounds,
        unit,
    )
