"""The live benchmark's options, from BENCH_LIVE_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_SUBSCRIBERS = 10_000


@dataclass(frozen=True)
class Options:
    subscribers: int = DEFAULT_SUBSCRIBERS
    processes: int = 4
    rounds: int = 3
    wave: int = 100
    batch_size: int = 1000
    timeout: float = 120.0
    grace: float = 2.0
    deflate: bool = True
    profile: str = ""
    profile_send: str = ""
    server_env: dict[str, str] = field(default_factory=dict)
    repeats: int = 10
    stall: float = 30.0
    soak: bool = False


def options_from_env() -> Options:
    """BENCH_LIVE (subscribers), BENCH_LIVE_PROCS, BENCH_LIVE_ROUNDS (send rounds, and as many
    fan-out rounds), BENCH_LIVE_BATCH (the worker's batch size), BENCH_LIVE_TIMEOUT and
    BENCH_LIVE_DEFLATE=0 (clients do not offer permessage-deflate; by default they offer it, as
    browsers do, and both servers decline) override the defaults. BENCH_LIVE_PROFILE=FILE
    records the server under py-spy (raw format) during its fan-out rounds,
    BENCH_LIVE_PROFILE_SEND=FILE during its send rounds (each repetition writes the file
    anew). BENCH_LIVE_REPEATS (10), BENCH_LIVE_STALL (seconds without progress that make a
    stall, 30) and BENCH_LIVE_SOAK=1 (faults in the repetitions after the first): see
    bench/live_soak.py."""
    env = os.environ
    return Options(
        subscribers=int(env.get("BENCH_LIVE", str(DEFAULT_SUBSCRIBERS))),
        processes=int(env.get("BENCH_LIVE_PROCS", "4")),
        rounds=int(env.get("BENCH_LIVE_ROUNDS", "3")),
        batch_size=int(env.get("BENCH_LIVE_BATCH", "1000")),
        timeout=float(env.get("BENCH_LIVE_TIMEOUT", "120")),
        deflate=env.get("BENCH_LIVE_DEFLATE", "1") not in ("0", "false", "no"),
        profile=env.get("BENCH_LIVE_PROFILE", ""),
        profile_send=env.get("BENCH_LIVE_PROFILE_SEND", ""),
        repeats=max(1, int(env.get("BENCH_LIVE_REPEATS", "10"))),
        stall=float(env.get("BENCH_LIVE_STALL", "30")),
        soak=env.get("BENCH_LIVE_SOAK", "0") not in ("0", "false", "no", ""),
    )
