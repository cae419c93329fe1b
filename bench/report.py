"""The plain-text report: one row per figure, ours beside the baseline, and the ratio."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.load import Stats


@dataclass(frozen=True)
class Comparison:
    name: str
    ours_label: str
    baseline_label: str
    ours: Stats
    baseline: Stats


def rows(comparison: Comparison) -> list[tuple[str, str, str, str]]:
    """requests/s (ratio = baseline / ours), p50 and p99 (ratio = ours / baseline)."""
    o, b = comparison.ours, comparison.baseline
    return [
        (f"{comparison.name}: req/s", f"{o.rps:.1f}", f"{b.rps:.1f}", f"{b.rps / o.rps:.2f}x"),
        (f"{comparison.name}: p50 ms", f"{o.p50:.2f}", f"{b.p50:.2f}", f"{o.p50 / b.p50:.2f}x"),
        (f"{comparison.name}: p99 ms", f"{o.p99:.2f}", f"{b.p99:.2f}", f"{o.p99 / b.p99:.2f}x"),
    ]


def table(comparisons: list[Comparison], extra: Sequence[tuple[str, str, str, str]] = ()) -> str:
    """The figures; `extra` rows (benchmarks with other units) follow in the same columns."""
    header = ("benchmark", "ours", "baseline", "ratio")
    body = [row for comparison in comparisons for row in rows(comparison)] + list(extra)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(4)]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in body)])


def describe(comparison: Comparison) -> str:
    o, b = comparison.ours, comparison.baseline
    return (
        f"- {comparison.name}: ours = {comparison.ours_label} ({o.requests} requests in "
        f"{o.seconds:.1f} s); baseline = {comparison.baseline_label} ({b.requests} requests in "
        f"{b.seconds:.1f} s). Ours is {o.p50 / b.p50:.2f}x the baseline's median latency and "
        f"serves {o.rps / b.rps:.2f}x its throughput."
    )
