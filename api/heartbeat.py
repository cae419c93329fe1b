"""A worker's liveness, seen from outside: the worker touches a file after every round
(TIDINGS_WORKER_HEARTBEAT_FILE), and `tidings worker-health` says whether it did so lately.
A round stuck on a hung provider or a lost database stops the heartbeat, so a container
orchestrator restarts the worker; an idle worker still beats (its rounds are naps)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tidings.api.settings import Settings, SettingsError
from tidings.plugins.durations import parse_duration

# Beats more often than this are skipped: an idle worker runs a round every half second.
MIN_INTERVAL = 1.0
DEFAULT_MAX_AGE = "5m"


class HeartbeatError(Exception):
    """The heartbeat file cannot be written: the worker refuses to start, rather than run
    unseen and be restarted over and over by its health check."""


def heartbeat(path: str | None) -> Callable[[], None] | None:
    """A function that touches `path` (at most once a second), or None without a path."""
    if path is None:
        return None
    target = Path(path)
    if not os.access(target.parent, os.W_OK) or target.is_dir():
        raise HeartbeatError(
            "TIDINGS_WORKER_HEARTBEAT_FILE must be a file in a directory the worker can write"
        )
    last = 0.0

    def beat() -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < MIN_INTERVAL:
            return
        last = now
        target.touch()

    return beat


def cmd_worker_health(args: argparse.Namespace) -> int:
    try:
        settings = Settings.load()
        max_age = parse_duration(args.max_age, "--max-age")
    except (SettingsError, ValueError) as error:
        print(f"tidings: {error}", file=sys.stderr)
        return 2
    if settings.worker_heartbeat_file is None:
        print("tidings: set TIDINGS_WORKER_HEARTBEAT_FILE for the worker", file=sys.stderr)
        return 2
    try:
        age = time.time() - os.stat(settings.worker_heartbeat_file).st_mtime
    except FileNotFoundError:
        print("tidings: the worker has not completed a round yet", file=sys.stderr)
        return 1
    if age > max_age:
        print(f"tidings: the worker's last round ended {age:.0f} s ago", file=sys.stderr)
        return 1
    print(f"alive: last round {age:.0f} s ago")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    health = sub.add_parser(
        "worker-health",
        help="exit 0 when the worker on this machine completed a round lately",
        description="Read TIDINGS_WORKER_HEARTBEAT_FILE, which `tidings worker` touches after "
        "every round: exit 0 when it is fresher than --max-age, 1 otherwise (for a container "
        "healthcheck).",
    )
    health.add_argument(
        "--max-age",
        default=DEFAULT_MAX_AGE,
        metavar="DURATION",
        help=f"the oldest heartbeat that counts as alive (default {DEFAULT_MAX_AGE})",
    )
    health.set_defaults(handler=cmd_worker_health)
