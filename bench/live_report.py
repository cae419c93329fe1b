"""The live benchmark's figures: rows for bench/report.py's table, a description, the goal."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import live_fanout

# Issue 15's goals: the live fan-out within 2x of the raw broadcast, at most 40 KB per
# subscriber; `send` to the tier → last receipt within 5x.
GOAL_RATIO = 2.0
GOAL_KB = 40.0
GOAL_END_TO_END = 5.0


@dataclass
class Round:
    seconds: float  # trigger → last receipt
    first_seconds: float  # trigger → first receipt
    received: dict[int, int]  # notifications per socket → sockets
    stray: int  # `next` frames before the trigger (none expected)
    open_sockets: int
    server_cpu: float
    note: str = ""
    expected: int = 0  # sockets that should have received (connected, not vanished)
    stalled: str = ""  # what the clients were still waiting for when progress stopped

    def exactly_one(self) -> int:
        return self.received.get(1, 0)


@dataclass(frozen=True)
class Side:
    subscribers: int
    connected: int
    failed: int
    connect_seconds: float
    settle_seconds: float
    rss_before_mb: float
    rss_after_mb: float
    rss_end_mb: float  # after the rounds, sockets still open
    rounds: list[Round]
    errors: list[str]
    closes: dict[str, int]
    trouble: list[str]
    fanout: list[Round] = field(default_factory=list)  # published straight onto the bus
    ack_stalls: int = 0  # handshakes with no connection_ack within the stall time
    fault: str = "none"  # the soak's trouble in this repetition

    def stall_summary(self) -> str:
        """Every stall of this repetition, or "" when there was none."""
        parts = []
        if self.ack_stalls:
            parts.append(f"{self.ack_stalls:,} sockets without connection_ack")
        named = [("round", r) for r in self.rounds] + [("fan-out round", r) for r in self.fanout]
        counters: dict[str, int] = {}
        for kind, r in named:
            number = counters[kind] = counters.get(kind, 0) + 1
            if r.stalled:
                parts.append(f"{kind} {number} stalled: {r.stalled}")
        return "; ".join(parts)

    @property
    def seconds(self) -> float:
        """The median round: the figure the table shows."""
        return statistics.median(r.seconds for r in self.rounds)

    @property
    def fanout_seconds(self) -> float:
        return statistics.median(r.seconds for r in self.fanout) if self.fanout else math.nan

    @property
    def kb_per_subscriber(self) -> float:
        if not self.connected:
            return math.nan
        return (self.rss_after_mb - self.rss_before_mb) * 1024 / self.connected

    def shortfalls(self) -> list[str]:
        """Every way a round fell short of one notification per subscriber."""
        problems = []
        if self.connected != self.subscribers:
            problems.append(f"only {self.connected:,} of {self.subscribers:,} sockets subscribed")
        named = [("round", r) for r in self.rounds] + [("fan-out round", r) for r in self.fanout]
        counters: dict[str, int] = {}
        for kind, r in named:
            number = counters[kind] = counters.get(kind, 0) + 1
            want = r.expected or self.subscribers
            if r.exactly_one() != want:
                mix = ", ".join(f"{n} → {s:,} sockets" for n, s in sorted(r.received.items()))
                problems.append(
                    f"{kind} {number}: {r.exactly_one():,} of {want:,} received "
                    f"exactly one notification ({mix})"
                )
        return problems

    def describe(self, who: str) -> str:
        text = (
            f"  {who}: {self.connected:,} subscribed ({self.failed} failed) in "
            f"{self.connect_seconds:.1f} s, settled {self.settle_seconds:.1f} s later; RSS "
            f"{self.rss_before_mb:.0f} MB before any socket, {self.rss_after_mb:.0f} MB with all "
            f"of them, {self.rss_end_mb:.0f} MB after the rounds. Rounds: {_rounds(self.rounds)}."
        )
        if self.fanout:
            text += f" Fan-out rounds: {_rounds(self.fanout)}."
        stray = sum(r.stray for r in self.rounds + self.fanout)
        if stray:
            text += f" {stray} `next` frames arrived before a trigger."
        if self.errors:
            text += " Client-side errors: " + " | ".join(self.errors)
        unexpected = {k: v for k, v in self.closes.items() if not k.startswith("1000")}
        if unexpected:
            text += f" Closed by the server: {unexpected}."
        if self.trouble:
            distinct = list(dict.fromkeys(self.trouble))
            text += f" Server log: {len(self.trouble)} error lines, first: " + " | ".join(
                distinct[:4]
            )
        return text


def _rounds(rounds: list[Round]) -> str:
    return "; ".join(
        f"{r.seconds:.2f} s (first receipt {r.first_seconds:.2f} s, server CPU "
        f"{r.server_cpu:.2f} s, exactly one: {r.exactly_one():,}"
        + (f", {r.note}" if r.note else "")
        + ")"
        for r in rounds
    )


@dataclass(frozen=True)
class LiveResult:
    subscribers: int
    processes: int
    batch_size: int
    deflate: bool
    load_seconds: float
    ours: Side
    baseline: Side
    repeats: list[Side] = field(default_factory=list)  # ours, every repetition (the first: ours)

    def stalls(self) -> list[str]:
        """One line per repetition that stalled: a wait that stopped making progress."""
        return self._trouble(lambda side: [side.stall_summary()])

    def failures(self) -> list[str]:
        """One line per repetition that fell short without stalling (a socket refused or
        dropped, a notification missing or twice)."""
        return self._trouble(lambda side: [] if side.stall_summary() else side.shortfalls())

    def _trouble(self, find: Callable[[Side], list[str]]) -> list[str]:
        lines = []
        for number, side in enumerate(self.repeats, 1):
            trouble = [t for t in find(side) if t]
            if trouble:
                trouble += [f"client: {e}" for e in side.errors[:2]]
                trouble += [f"server log: {t}" for t in dict.fromkeys(side.trouble[:2])]
                lines.append(f"repetition {number} ({side.fault}): " + "; ".join(trouble))
        return lines

    def describe_repeats(self) -> str:
        if len(self.repeats) < 2:
            return ""
        each = "; ".join(
            f"{n}. {side.fault}: connect {side.connect_seconds:.1f} s, rounds "
            + "/".join(f"{r.seconds:.2f}" for r in side.rounds)
            + " s, fan-out "
            + "/".join(f"{r.seconds:.2f}" for r in side.fanout)
            + " s"
            for n, side in enumerate(self.repeats, 1)
        )
        return f"  ours, {len(self.repeats)} repetitions on the same server: {each}."

    @property
    def ratio(self) -> float:
        """End to end: `send` → last receipt, against the raw broadcast."""
        return self.ours.seconds / self.baseline.seconds

    @property
    def fanout_ratio(self) -> float:
        """The live layer alone: publish → last receipt, against the raw broadcast."""
        return self.ours.fanout_seconds / self.baseline.seconds

    def rows(self) -> list[tuple[str, str, str, str]]:
        o, b = self.ours, self.baseline
        name = f"live {self.subscribers:,} subscribers"
        return [
            (
                f"{name}: send → last receipt (s), end to end, goal ≤{GOAL_END_TO_END:.0f}x",
                f"{o.seconds:.2f}",
                f"{b.seconds:.2f}",
                f"{self.ratio:.2f}x",
            ),
            (
                f"{name}: live fan-out: publish → last receipt (s), goal ≤{GOAL_RATIO:.0f}x",
                f"{o.fanout_seconds:.2f}",
                f"{b.seconds:.2f}",
                f"{self.fanout_ratio:.2f}x",
            ),
            (
                f"{name}: memory per subscriber (KB), goal ≤{GOAL_KB:.0f}",
                f"{o.kb_per_subscriber:.1f}",
                f"{b.kb_per_subscriber:.1f}",
                f"{o.kb_per_subscriber / b.kb_per_subscriber:.2f}x",
            ),
        ]

    def describe(self) -> str:
        offer = "offered, as browsers do" if self.deflate else "not offered: BENCH_LIVE_DEFLATE=0"
        return "\n".join(
            [
                f"- live: {self.subscribers:,} graphql-transport-ws sockets from "
                f"{self.processes} client processes (websockets; permessage-deflate {offer}; "
                "both servers decline it, as `tidings serve` runs uvicorn with "
                "ws_per_message_deflate=False); seconds = wall clock from just before the "
                f"trigger to the last `next` frame received, median of {len(self.ours.rounds)} "
                "rounds on the same sockets; memory = the server's RSS with every socket "
                "subscribed minus before the first, per socket. The baseline ran first, then ours.",
                "  ours = one `tidings serve` (uvicorn) on PostgreSQL, in-process worker "
                f"(TIDINGS_WORKER_BATCH_SIZE={self.batch_size}), its live bus on a redis-server "
                "the benchmark started (a free port, no persistence).",
                "  send → last receipt (end to end) = `send` over HTTP to the ORDINARY tier, "
                "MARKETING category, channel in_app, each customer with an in-app grant (loaded "
                f"by COPY in {self.load_seconds:.1f} s), tier policy REALTIME with no caps so "
                f"every round delivers: {self.subscribers:,} deliveries decided and written, the "
                f"worker storing {self.subscribers:,} notifications in PostgreSQL, then "
                "publishing them on the bus; the raw broadcast does none of that.",
                "  live fan-out: publish → last receipt = the live layer alone: "
                f"{self.subscribers:,} NOTIFICATION events (data as the worker publishes it, "
                f"fresh ids) encoded before the clock starts into batches of "
                f"{live_fanout.BATCH:,} events, each split by customer shard (one bus message "
                "per shard) and published in one pipeline, one after another as a worker's "
                "rounds do; the server decodes them, and every subscription re-checks "
                "its caller, runs the GraphQL selection and sends its frame. The same work as "
                "the raw broadcast: one frame per socket.",
                self.ours.describe("ours"),
                "  baseline = bench/live_baseline.py: uvicorn + Starlette WebSocket (the same "
                "server stack and uvicorn settings, deflate off), a minimal handshake, then on "
                "POST /broadcast one pre-serialised frame of the same shape to every socket, one "
                "send_text after another.",
                self.baseline.describe("baseline"),
                self.describe_repeats(),
            ]
        ).rstrip()

    def goal(self) -> str:
        kb = self.ours.kb_per_subscriber
        fanout_ok = self.fanout_ratio <= GOAL_RATIO
        kb_ok = kb <= GOAL_KB
        end_ok = self.ratio <= GOAL_END_TO_END

        def verdict(ok: bool) -> str:
            return "meets it" if ok else "does NOT meet it"

        lines = [
            f"Goal (live within {GOAL_RATIO:.0f}x of the raw broadcast, at most {GOAL_KB:.0f} KB "
            f"per subscriber): {'MET' if fanout_ok and kb_ok else 'NOT MET'} for the live layer. "
            f"The {GOAL_RATIO:.0f}x applies to the comparable row, live fan-out (publish → last "
            f"receipt; one frame per socket on both sides): {self.fanout_ratio:.2f}x, "
            f"{verdict(fanout_ok)}. Memory {kb:.1f} KB per subscriber: {verdict(kb_ok)}. "
            f"End to end (send → last receipt, which also decides and writes "
            f"{self.subscribers:,} deliveries and stores {self.subscribers:,} notifications in "
            f"PostgreSQL, none of which the raw broadcast does): {self.ratio:.2f}x the "
            f"broadcast, {'within' if end_ok else 'over'} {GOAL_END_TO_END:.0f}x."
        ]
        if self.repeats:
            stalls, failures = self.stalls(), self.failures()
            lines.append(
                f"Stalls (goal: none) in {len(self.repeats)} repetitions of ours: "
                + (f"{len(stalls)}: " + " | ".join(stalls) if stalls else "none")
                + "."
            )
            if failures:
                lines.append(
                    f"Fell short without stalling in {len(failures)}: " + " | ".join(failures) + "."
                )
        for who, side in (("ours", self.ours), ("baseline", self.baseline)):
            problems = side.shortfalls()
            if problems:
                lines.append(f"LIVE FAILURE ({who}): " + "; ".join(problems) + ".")
            else:
                fanout = f" and {len(side.fanout)} fan-out rounds" if side.fanout else ""
                lines.append(
                    f"Live ({who}): all {side.subscribers:,} subscribers received exactly one "
                    f"notification in each of {len(side.rounds)} rounds{fanout}."
                )
        return "\n".join(lines)
