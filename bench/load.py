"""A closed-loop load driver: N workers issue requests back to back; latencies and throughput.

The machine may be shared (other processes, PostgreSQL itself), so measurements are taken in
interleaved rounds: every figure and its baseline see the same background load."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

Request = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Budget:
    warmup: int = 50
    requests: int = 1000
    max_seconds: float = 20.0
    workers: int = 4
    rounds: int = 5


@dataclass(frozen=True)
class Stats:
    requests: int
    seconds: float
    latencies_ms: tuple[float, ...]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        ordered = sorted(self.latencies_ms)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1]

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)


async def _run(
    request: Request, workers: int, count: int, deadline: float | None
) -> tuple[list[float], float]:
    latencies: list[float] = []
    issued = 0

    async def worker() -> None:
        nonlocal issued
        while issued < count and (deadline is None or time.perf_counter() < deadline):
            issued += 1
            started = time.perf_counter()
            await request()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return latencies, time.perf_counter() - started


async def interleaved(requests: Mapping[str, Request], budget: Budget) -> dict[str, Stats]:
    """Warm each up, then measure them in `budget.rounds` interleaved rounds, each round
    `requests / rounds` requests (or its share of `max_seconds`) per measurement."""
    for request in requests.values():
        await _run(request, budget.workers, budget.warmup, None)
    latencies: dict[str, list[float]] = {name: [] for name in requests}
    seconds = dict.fromkeys(requests, 0.0)
    per_round = math.ceil(budget.requests / budget.rounds)
    for _ in range(budget.rounds):
        for name, request in requests.items():
            deadline = time.perf_counter() + budget.max_seconds / budget.rounds
            done, elapsed = await _run(request, budget.workers, per_round, deadline)
            latencies[name].extend(done)
            seconds[name] += elapsed
    for name, values in latencies.items():
        if not values:
            raise RuntimeError(f"{name}: no request completed in the time allowed")
    return {
        name: Stats(requests=len(values), seconds=seconds[name], latencies_ms=tuple(values))
        for name, values in latencies.items()
    }
