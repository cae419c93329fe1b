"""`tidings stats rebuild`: the delivery stats' rollups computed again from the deliveries,
with a progress bar (core/stats/rebuild.py says when it is needed and what runs meanwhile)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from tidings.api.serving import run_command, with_db
from tidings.api.settings import Settings

BAR = 30


class Progress:
    """A bar redrawn in place on a terminal; on anything else, a line per tenth."""

    def __init__(self, out: TextIO, unit: str = "deliveries") -> None:
        self.out = out
        self.unit = unit
        self.started = time.monotonic()
        self.tenth = -1

    def __call__(self, done: int, total: int) -> None:
        share = 1.0 if total == 0 else done / total
        filled = int(BAR * share)
        line = (
            f"[{'#' * filled}{'.' * (BAR - filled)}] {share:6.1%}  "
            f"{done:,} / {total:,} {self.unit}  {time.monotonic() - self.started:.1f} s"
        )
        if self.out.isatty():
            self.out.write(f"\r{line}")
            self.out.flush()
        elif int(share * 10) > self.tenth:
            self.tenth = int(share * 10)
            print(line, file=self.out)

    def end(self) -> None:
        if self.out.isatty():
            self.out.write("\n")


def cmd_stats_rebuild(args: argparse.Namespace) -> int:
    from tidings.core.stats.rebuild import rebuild_stats

    async def work(settings: Settings) -> int:
        async def rebuild() -> int:
            progress = Progress(sys.stderr)
            counted = await rebuild_stats(progress)
            progress.end()
            print(f"rebuilt the stats from {counted:,} deliveries")
            return 0

        return await with_db(settings, rebuild, migrate=False)

    return run_command(work)


def add_parser(sub: Any) -> None:
    """The `stats` command's arguments (api/cli.py)."""
    stats = sub.add_parser(
        "stats",
        help="maintain the delivery stats",
        description="The delivery stats (deliveryStats, the dashboard) are kept in rollups "
        "as deliveries change. `tidings stats rebuild` computes them again from the "
        "deliveries, e.g. after restoring some tables from a backup. Sends go on meanwhile.",
    )
    actions = stats.add_subparsers(dest="action", required=True, metavar="ACTION")
    rebuild = actions.add_parser(
        "rebuild",
        help="compute every rollup again from the deliveries, with a progress bar",
        description="Empty the rollups and count every delivery again, in one transaction.",
    )
    rebuild.set_defaults(handler=cmd_stats_rebuild)
