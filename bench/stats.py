"""Benchmark 7: `delivery_stats` over a 90-day history of N deliveries (10,000,000 by default,
BENCH_STATS overrides) on its own PostgreSQL database, beside the same aggregation as a plain
SQL scan of the deliveries (JOIN messages, GROUP BY, counts by FILTER), in interleaved rounds
in the same process. Three figures: category x channel x day in UTC, the same in
Asia/Shanghai, and message over the last 7 days. The two answers must agree, group by group.

BENCH_STATS_KEEP=1 keeps the database (tidings_bench_stats) after the run and reuses it next
time when it holds a complete history of the same size, VERSION and migrations
(bench/stats_data.py `version`): the load is skipped, the migrations and the rebuild still run."""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from dataclasses import dataclass

import asyncpg

from bench import dataset, sealed, stats_data, stats_scan
from bench.customers_page import progress
from bench.stats_scan import Figure, Totals

DEFAULT_DELIVERIES = 10_000_000
KEPT = "tidings_bench_stats"
ROUNDS = 5
OURS_PER_ROUND = 6  # 30 timed answers from the rollups per figure, 5 scans
WARMUP = 2
# The goals: p50 under 50 ms, at least 100x faster than the scan.
GOAL_MS = 50.0
GOAL_RATIO = 100.0


@dataclass(frozen=True)
class Timing:
    figure: Figure
    ours_ms: tuple[float, ...]
    scan_ms: tuple[float, ...]
    groups: int

    @property
    def p50(self) -> float:
        return statistics.median(self.ours_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.ours_ms)
        return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]

    @property
    def scan_p50(self) -> float:
        return statistics.median(self.scan_ms)

    @property
    def ratio(self) -> float:
        return self.scan_p50 / self.p50


@dataclass(frozen=True)
class StatsResult:
    deliveries: int
    reused: bool
    load_seconds: float
    rebuild_seconds: float
    rollup_rows: dict[str, int]
    timings: list[Timing]
    totals: Totals

    def rows(self) -> list[tuple[str, str, str, str]]:
        out: list[tuple[str, str, str, str]] = []
        for t in self.timings:
            name = f"B7 stats {t.figure.label}"
            out.append(
                (f"{name}: p50 ms", f"{t.p50:.1f}", f"{t.scan_p50:.0f}", f"{t.ratio:.0f}x faster")
            )
            out.append((f"{name}: p95 ms", f"{t.p95:.1f}", f"{max(t.scan_ms):.0f}", "-"))
        return out

    def describe(self) -> str:
        first = self.timings[0]
        load = (
            f"reused a kept database ({KEPT}; loaded earlier)"
            if self.reused
            else f"loaded by INSERT ... SELECT FROM generate_series in {self.load_seconds:.0f} s"
            " with the stats triggers off"
        )
        rollups = ", ".join(f"{name} {count:,}" for name, count in self.rollup_rows.items())
        groups = "; ".join(f"{t.figure.label}: {t.groups:,} rows" for t in self.timings)
        return (
            f"- stats (B7): {self.deliveries:,} deliveries over {stats_data.DAYS} days "
            f"({len(stats_data.MARKETING) + 2} categories, 3 channels, 3 tiers, "
            f"{stats_data.CUSTOMERS:,} customers, {stats_data.CAMPAIGNS:,} campaigns + "
            f"{stats_data.TRANSACTIONAL:,} transactional messages), {load}; rebuild_stats "
            f"took {self.rebuild_seconds:.1f} s (rollup rows: {rollups}). Ours = "
            f"tidings.core.stats.query.delivery_stats in this process ({len(first.ours_ms)} "
            f"timed calls per figure); baseline = the same counts by a plain SQL scan of the "
            f"deliveries JOIN messages with GROUP BY and FILTER ({len(first.scan_ms)} timed "
            f"scans), {ROUNDS} interleaved rounds after {WARMUP} warm-ups each. Answers: "
            f"{groups}. Both agree on every group and on the totals per category "
            f"({self.totals.describe()})."
        )

    def goal(self) -> str:
        first = self.timings[0]
        met = first.p50 < GOAL_MS and first.ratio >= GOAL_RATIO
        verdict = "MET" if met else "NOT MET"
        others = "; ".join(
            f"{t.figure.label} p50 {t.p50:.1f} ms, {t.ratio:.0f}x" for t in self.timings[1:]
        )
        return (
            f"Goal (B7 category x channel x day over 90 days: p50 < {GOAL_MS:.0f} ms and >= "
            f"{GOAL_RATIO:.0f}x faster than the scan): {verdict}: p50 {first.p50:.1f} ms, "
            f"p95 {first.p95:.1f} ms, {first.ratio:.0f}x. Also: {others}."
        )


def deliveries_from_env() -> int:
    return int(os.environ.get("BENCH_STATS", str(DEFAULT_DELIVERIES)))


def keep_from_env() -> bool:
    return os.environ.get("BENCH_STATS_KEEP", "") not in ("", "0")


async def _open_kept() -> str:
    """The kept database's URL, created empty if it is not there."""
    conn = await asyncpg.connect(dataset.ADMIN_URL)
    try:
        found = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", KEPT)
        if not found:
            await conn.execute(f'CREATE DATABASE "{KEPT}"')
    finally:
        await conn.close()
    return f"{dataset.SERVER_URL}/{KEPT}"


async def _history(url: str, deliveries: int, keep: bool) -> tuple[stats_data.History, bool]:
    """Reuse a kept history of the right size, or load one (dropping a stale one first)."""
    conn = await asyncpg.connect(url)
    try:
        held = await stats_data.marker(conn)
    finally:
        await conn.close()
    if keep and held is not None and held.deliveries == deliveries:
        return held, True
    if keep:
        await dataset.drop_database(url)
        url = await _open_kept()
        await dataset.migrate(url)
        from tidings.core import db

        await db.close_db()
    progress(f"B7: writing {deliveries:,} deliveries over {stats_data.DAYS} days (SQL)")
    return await stats_data.load(url, deliveries, progress), False


async def _rebuild(url: str) -> tuple[float, dict[str, int]]:
    from tidings.core.stats.rebuild import rebuild_stats

    progress("B7: rebuild_stats (every rollup from the deliveries)")
    started = time.perf_counter()
    await rebuild_stats()
    seconds = time.perf_counter() - started
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE stats_quarters, stats_hours, stats_days, stats_deltas")
        counts = {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("stats_days", "stats_hours", "stats_quarters", "stats_deltas")
        }
    finally:
        await conn.close()
    return seconds, counts


async def _measure(url: str, history: stats_data.History) -> tuple[list[Timing], Totals]:
    from tidings.core.stats.query import delivery_stats

    figures = stats_scan.figures(history.start, history.end)
    conn = await asyncpg.connect(url)
    ours: dict[str, list[float]] = {f.label: [] for f in figures}
    scans: dict[str, list[float]] = {f.label: [] for f in figures}
    totals = Totals()
    groups: dict[str, int] = {}
    try:
        for figure in figures:
            progress(f"B7: {figure.label}: warm-up and the agreement check")
            answer = await delivery_stats(figure.query, stats_scan.receipts)
            scanned = await stats_scan.scan(conn, figure)
            stats_scan.agree(figure, answer, scanned, totals)
            groups[figure.label] = len(answer)
            for _ in range(WARMUP - 1):
                await delivery_stats(figure.query, stats_scan.receipts)
        for r in range(ROUNDS):
            progress(f"B7: round {r + 1} of {ROUNDS}")
            for figure in figures:
                for _ in range(OURS_PER_ROUND):
                    started = time.perf_counter()
                    await delivery_stats(figure.query, stats_scan.receipts)
                    ours[figure.label].append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                await stats_scan.scan(conn, figure)
                scans[figure.label].append((time.perf_counter() - started) * 1000)
    finally:
        await conn.close()
    timings = [
        Timing(f, tuple(ours[f.label]), tuple(scans[f.label]), groups[f.label]) for f in figures
    ]
    return timings, totals


async def run(deliveries: int, keep: bool = False) -> StatsResult:
    from tidings.core import db

    progress(f"B7: a PostgreSQL database for {deliveries:,} deliveries")
    url = await _open_kept() if keep else await dataset.create_database()
    try:
        await dataset.migrate(url)
        await db.close_db()
        started = time.perf_counter()
        history, reused = await _history(url, deliveries, keep)
        load_seconds = time.perf_counter() - started
        await db.init_db(url, keyring=sealed.KEYRING)
        rebuild_seconds, rollup_rows = await _rebuild(url)
        timings, totals = await _measure(url, history)
    finally:
        with contextlib.suppress(Exception):
            await db.close_db()
        if not keep:
            await dataset.drop_database(url)
    return StatsResult(
        deliveries, reused, load_seconds, rebuild_seconds, rollup_rows, timings, totals
    )
