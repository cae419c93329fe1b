"""The closing summary of `make bench`: one line per goal of issue 15, each figure beside its
baseline from the same run, the ratio, the goal, and met or MISSED.

A benchmark's result object may offer `summary() -> list[GoalRow]`; for those that do not, an
adapter below reads the figures they already expose (`ratio`, `fanout_ratio`, ...), so the
summary needs nothing of their internals. A goal whose benchmark did not run says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.report import Comparison

# The goals, in the order the summary lists them (name, what is compared).
EXPECTED = (
    ("B1", "fan-out vs COPY of the same rows"),
    ("B2", "customers(first:100) vs bare graphql-core"),
    ("B3", "send p99 vs {__typename} p99"),
    ("B4 fan-out", "live fan-out vs raw broadcast"),
    ("B4 end to end", "send → last receipt vs raw broadcast"),
    ("B4 memory", "KB per subscriber"),
    ("B5", "email vs bare aiosmtplib loops"),
    ("B6 push", "FCM vs bare httpx"),
    ("B6 sms", "SMS vs bare httpx"),
    ("live stalls", "runs that stalled"),
)
B2_GOAL = 1.2


@dataclass(frozen=True)
class GoalRow:
    """One goal: `ratio` is compared with `goal` (at most, or at least when `at_least`)."""

    key: str  # one of EXPECTED's names
    what: str
    ours: str
    baseline: str
    ratio: float
    goal: float
    at_least: bool = False
    unit: str = "x"

    @property
    def met(self) -> bool:
        return self.ratio >= self.goal if self.at_least else self.ratio <= self.goal

    def cells(self) -> tuple[str, str, str, str, str, str]:
        sign = "≥" if self.at_least else "≤"
        ratio = f"{self.ratio:.2f}{self.unit}" if self.unit == "x" else f"{self.ratio:g}"
        return (
            f"{self.key}: {self.what}",
            self.ours,
            self.baseline,
            ratio,
            f"{sign} {self.goal:g}{self.unit}",
            "met" if self.met else "MISSED",
        )


def b2_row(headline: Comparison) -> GoalRow:
    """B2 reads the worse of latency (p50, ours/baseline) and throughput (baseline/ours)."""
    o, b = headline.ours, headline.baseline
    ratio = max(o.p50 / b.p50, b.rps / o.rps)
    return GoalRow(
        "B2",
        f"{headline.name}, worse of p50 and req/s",
        f"{o.p50:.2f} ms, {o.rps:.0f}/s",
        f"{b.p50:.2f} ms, {b.rps:.0f}/s",
        ratio,
        B2_GOAL,
    )


def _fanout(result: Any) -> list[GoalRow]:
    from bench import fanout

    return [
        GoalRow(
            "B1",
            f"fan-out {result.customers:,} customers, seconds",
            f"{result.ours.seconds:.1f} s",
            f"{result.baseline.seconds:.1f} s (COPY)",
            result.ratio,
            fanout.GOAL_RATIO,
        )
    ]


def _live(result: Any) -> list[GoalRow]:
    from bench import live_report

    o, b = result.ours, result.baseline
    subscribers = f"{result.subscribers:,} subscribers"
    rows = [
        GoalRow(
            "B4 fan-out",
            f"publish → last receipt, {subscribers}",
            f"{o.fanout_seconds:.2f} s",
            f"{b.seconds:.2f} s",
            result.fanout_ratio,
            live_report.GOAL_RATIO,
        ),
        GoalRow(
            "B4 end to end",
            f"send → last receipt, {subscribers}",
            f"{o.seconds:.2f} s",
            f"{b.seconds:.2f} s",
            result.ratio,
            getattr(live_report, "GOAL_END_TO_END", 5.0),
        ),
        GoalRow(
            "B4 memory",
            "KB per subscriber",
            f"{o.kb_per_subscriber:.1f} KB",
            f"{b.kb_per_subscriber:.1f} KB",
            o.kb_per_subscriber,
            live_report.GOAL_KB,
            unit=" KB",
        ),
    ]
    # Every repetition of the live benchmark (bench/live.py runs it BENCH_LIVE_REPEATS times);
    # a stall is a repetition whose waits stopped making progress.
    runs = max(1, len(result.repeats))
    stalls = len(result.stalls())
    rows.append(
        GoalRow(
            "live stalls",
            f"runs that stalled, of {runs}",
            str(stalls),
            "0",
            stalls,
            0,
            unit="",
        )
    )
    return rows


def _mail(result: Any) -> list[GoalRow]:
    from bench import mail

    return [
        GoalRow(
            "B5",
            f"email msg/s over {getattr(result, 'connections', 1)} connections",
            f"{result.ours_rate:.0f}/s",
            f"{result.baseline_rate:.0f}/s",
            result.ratio,
            mail.GOAL,
            at_least=True,
        )
    ]


ADAPTERS: dict[str, Callable[[Any], list[GoalRow]]] = {
    "FanoutResult": _fanout,
    "LiveResult": _live,
    "MailResult": _mail,
}


def collect(comparisons: Sequence[Comparison], results: Iterable[Any]) -> list[GoalRow]:
    """Every goal row the run produced: B2 from the page comparisons' headline, the rest from
    each result's own `summary()` or its adapter; results with no goal here add nothing."""
    rows = [b2_row(comparisons[0])] if comparisons else []
    for result in results:
        own = getattr(result, "summary", None)
        if callable(own):
            rows.extend(own())
            continue
        adapter = ADAPTERS.get(type(result).__name__)
        if adapter is not None:
            rows.extend(adapter(result))
    return rows


def render(rows: Sequence[GoalRow]) -> str:
    """The table, then the goals no benchmark of this run measured, then the tally."""
    header = ("goal", "ours", "baseline", "ratio", "goal", "verdict")
    body = [row.cells() for row in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(cells)
        )

    lines = ["Summary: every goal beside its baseline from this run", line(header)]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(line(cells) for cells in body)
    measured = {row.key for row in rows}
    missing = [f"{key} ({what})" for key, what in EXPECTED if key not in measured]
    if missing:
        lines.append("Not measured in this run: " + "; ".join(missing) + ".")
    met = sum(row.met for row in rows)
    lines.append(f"Goals met: {met} of {len(rows)} measured.")
    return "\n".join(lines)
