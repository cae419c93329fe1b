"""`tidings rotate-keys`: encrypted personal data moved under the newest data key, in batches
with a progress bar; interrupted, it is finished by running it again (core/crypto/rotation.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tidings.api.serving import run_command, with_db
from tidings.api.settings import Settings
from tidings.api.stats_cli import Progress


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    from tidings.core.crypto.rotation import rotate_keys

    async def work(settings: Settings) -> int:
        keyring = settings.keyring
        assert keyring is not None  # Settings.load always builds one

        async def rotate() -> int:
            progress = Progress(sys.stderr, unit="rows")
            result = await rotate_keys(
                keyring,
                reindex=args.reindex,
                batch_size=args.batch_size,
                max_batches=args.max_batches,
                progress=progress,
            )
            progress.end()
            state = "done" if result.finished else "stopped early; run it again to finish"
            print(
                f"rewrote {result.rewritten:,} of {result.scanned:,} rows under key "
                f"{keyring.current.key_id!r} ({state})"
            )
            return 0

        return await with_db(settings, rotate, migrate=False)

    return run_command(work)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def add_parser(sub: Any) -> None:
    """The `rotate-keys` command's arguments (api/cli.py)."""
    rotate = sub.add_parser(
        "rotate-keys",
        help="re-encrypt personal data under the newest data key, with a progress bar",
        description="Put the new key first in TIDINGS_DATA_KEYS (keep the old ones after it), "
        "restart the service, then run this: every encrypted value not under the first key "
        "is re-encrypted, in batches. Safe to interrupt and run again; every row keeps "
        "decrypting meanwhile. Remove an old key only after a run that says 'done'.",
    )
    rotate.add_argument(
        "--reindex",
        action="store_true",
        help="also compute every blind index again (after changing TIDINGS_BLIND_INDEX_KEY)",
    )
    rotate.add_argument("--batch-size", type=_positive, default=500, help="rows per batch")
    rotate.add_argument(
        "--max-batches",
        type=_positive,
        default=None,
        help="stop after this many batches (run again to go on)",
    )
    rotate.set_defaults(handler=cmd_rotate_keys)
