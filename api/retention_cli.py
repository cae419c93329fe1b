"""`tidings retention prune`: delete deliveries, their events and notifications older than
TIDINGS_RETENTION_DAYS (or `--days`), in small batches, leaving the stats as they are
(core/services/retention.py). The worker does the same at most once an hour."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tidings.api.serving import run_command, with_db
from tidings.api.settings import Settings


def cmd_retention_prune(args: argparse.Namespace) -> int:
    from tidings.core.services.retention import prune

    async def work(settings: Settings) -> int:
        days = args.days if args.days is not None else settings.retention_days
        if days is None:
            print(
                "tidings: nothing to prune: TIDINGS_RETENTION_DAYS is unset (give --days N)",
                file=sys.stderr,
            )
            return 2

        async def run() -> int:
            result = await prune(days)
            print(
                f"pruned {result.deliveries:,} deliveries, {result.delivery_events:,} delivery "
                f"events and {result.notifications:,} notifications older than {days} days"
            )
            return 0

        return await with_db(settings, run, migrate=False)

    return run_command(work)


def _days(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of days")
    return number


def add_parser(sub: Any) -> None:
    """The `retention` command's arguments (api/cli.py)."""
    retention = sub.add_parser(
        "retention",
        help="prune old deliveries and notifications",
        description="Deliveries, their events and inbox notifications older than "
        "TIDINGS_RETENTION_DAYS are deleted; the delivery stats keep counting them.",
    )
    actions = retention.add_subparsers(dest="action", required=True, metavar="ACTION")
    prune = actions.add_parser(
        "prune",
        help="delete what is older than the retention period, in batches",
        description="Delete deliveries (never queued or deferred ones), their events and "
        "notifications older than TIDINGS_RETENTION_DAYS, in small transactions. Sends go "
        "on meanwhile.",
    )
    prune.add_argument(
        "--days", type=_days, default=None, help="override TIDINGS_RETENTION_DAYS for this run"
    )
    prune.set_defaults(handler=cmd_retention_prune)
