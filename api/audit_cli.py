"""`tidings audit verify` and `tidings audit prune`: check the audit log's chain, and prune
it by hand (the worker prunes hourly when TIDINGS_AUDIT_RETENTION_DAYS is set)."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

from tidings.api.serving import run_command, with_db
from tidings.api.settings import Settings
from tidings.api.stats_cli import Progress

# Exit codes: 1 the chain is broken; 2 no retention to prune by (as for a missing setting).
BROKEN = 1
NO_RETENTION = 2


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from tidings.core.audit.verify import verify_chain

    async def work(settings: Settings) -> int:
        async def verify() -> int:
            progress = Progress(sys.stderr, unit="entries")
            result = await verify_chain(settings.secret_key.reveal(), progress=progress)
            progress.end()
            start = (
                f"from checkpoint {result.checkpoint.id} (after entry {result.checkpoint.entry_id})"
                if result.checkpoint
                else "from the start"
            )
            if result.broken is not None:
                print(
                    f"tidings: the audit chain is broken at {result.broken.describe()}; "
                    f"{result.count:,} entries before it verified, {start}",
                    file=sys.stderr,
                )
                return BROKEN
            print(f"{result.count:,} entries verified, {start}")
            if result.last_id is not None:
                print(f"last entry {result.last_id}, hash {result.last_hash}")
            return 0

        return await with_db(settings, verify, migrate=False)

    return run_command(work)


def cmd_audit_prune(args: argparse.Namespace) -> int:
    from tidings.core.audit.prune import prune_entries

    async def work(settings: Settings) -> int:
        days = args.days or settings.audit_retention_days
        if days is None:
            print(
                "tidings: TIDINGS_AUDIT_RETENTION_DAYS is not set (entries are kept forever); "
                "give --days to prune anyway",
                file=sys.stderr,
            )
            return NO_RETENTION

        async def prune() -> int:
            pruned = await prune_entries(settings.secret_key.reveal(), timedelta(days=days))
            if pruned.count:
                print(f"pruned {pruned.count:,} entries older than {days} days")
                print(f"through entry {pruned.through}")
            else:
                print(f"no entries older than {days} days")
            return 0

        return await with_db(settings, prune, migrate=False)

    return run_command(work)


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of days")
    return number


def add_parser(sub: Any) -> None:
    """The `audit` command's arguments (api/cli.py)."""
    audit = sub.add_parser(
        "audit",
        help="verify and prune the audit log",
        description="The audit log is hash-chained: `verify` walks it and names the first "
        "changed, removed or reordered entry; `prune` removes entries older than the "
        "retention behind a signed checkpoint (docs/audit.md).",
    )
    actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="check every entry's hash and link; exit 1 naming the first broken one",
        description="Recompute every entry's hash after the newest signed checkpoint and check "
        "the links between them. Exits 0 with a summary, or 1 naming the first broken entry "
        "(or forged checkpoint) and why.",
    )
    verify.set_defaults(handler=cmd_audit_verify)
    prune = actions.add_parser(
        "prune",
        help="delete entries older than TIDINGS_AUDIT_RETENTION_DAYS now",
        description="Delete entries older than the retention, oldest first, in batches, each "
        "behind a signed checkpoint; the worker does this hourly when the retention is set.",
    )
    prune.add_argument(
        "--days",
        type=_positive,
        default=None,
        help="the retention in days (default: TIDINGS_AUDIT_RETENTION_DAYS)",
    )
    prune.set_defaults(handler=cmd_audit_prune)
