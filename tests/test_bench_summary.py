"""The closing summary of `make bench` (bench/summary.py): goals collected from each result
object, met or MISSED against the issue's goal, and the goals a run did not measure named."""

from __future__ import annotations

from bench.load import Stats
from bench.mail import MailResult
from bench.report import Comparison
from bench.summary import GoalRow, collect, render


class OwnSummary:
    def summary(self) -> list[GoalRow]:
        return [GoalRow("B3", "send p99", "9.0 ms", "3.0 ms", 3.0, 5.0)]


class NoGoal:
    """A result with no goal in issue 15 (e.g. the stats benchmark): adds no row."""


def stats(p50: float, rps: float) -> Stats:
    return Stats(requests=int(rps), seconds=1.0, latencies_ms=(p50,))


def test_rows_come_from_summary_methods_adapters_and_the_page_headline() -> None:
    page = Comparison(
        "customers(first:100) HTTP vs bare", "ours", "bare", stats(3.0, 90), stats(2.0, 100)
    )
    email = MailResult(emails=100, ours_seconds=2.0, baseline_seconds=1.0, connections=4)

    rows = collect([page], [OwnSummary(), email, NoGoal()])

    assert [(r.key, round(r.ratio, 2), r.met) for r in rows] == [
        ("B2", 1.5, False),  # the worse of p50 (1.5x) and req/s (1.11x)
        ("B3", 3.0, True),
        ("B5", 0.5, False),  # at least 0.95x the bare loops
    ]


def test_render_marks_each_goal_and_names_what_did_not_run() -> None:
    rows = [
        GoalRow("B3", "send p99", "9.0 ms", "3.0 ms", 3.0, 5.0),
        GoalRow("B6 sms", "sms msg/s", "70/s", "100/s", 0.7, 0.8, at_least=True),
        GoalRow("live stalls", "runs that stalled, of 10", "0", "0", 0, 0, unit=""),
    ]

    text = render(rows)

    lines = text.splitlines()
    assert any(line.startswith("B3: send p99") and line.endswith("met") for line in lines)
    assert any(line.startswith("B6 sms") and line.endswith("MISSED") for line in lines)
    assert any(line.startswith("live stalls") and line.endswith("met") for line in lines)
    assert "Not measured in this run: B1 (" in text and "B5 (" in text
    assert lines[-1] == "Goals met: 2 of 3 measured."
