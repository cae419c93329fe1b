"""Run the benchmarks against a scratch database, print the report, always drop the database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections.abc import Coroutine
from typing import Any

from bench import (
    customers_page,
    dataset,
    fanout,
    feedback,
    http_send,
    live,
    live_options,
    mail,
    mail_tracking,
    send_latency,
    stats,
    stats_upkeep,
)
from bench.encryption_cost import EncryptionCost
from bench.load import Budget
from bench.report import Comparison, describe, table
from bench.summary import B2_GOAL, collect, render
from tidings.core import db

Result = (
    fanout.FanoutResult
    | mail.MailResult
    | mail_tracking.TrackingResult
    | live.LiveResult
    | stats.StatsResult
    | stats_upkeep.UpkeepResult
    | EncryptionCost
    | send_latency.SendLatencyResult
    | http_send.HttpSendResult
)
CUSTOMERS = 10_000
# Issue 15's B2: within 1.2x of the bare baseline.
GOAL = B2_GOAL
ALL = (
    "page",
    "send",
    "fanout",
    "email",
    "http",
    "tracking",
    "live",
    "feedback",
    "stats",
    "upkeep",
)


def budget_from_env() -> Budget:
    """BENCH_REQUESTS and BENCH_WORKERS override the defaults (for a quick look)."""
    return Budget(
        requests=int(os.environ.get("BENCH_REQUESTS", "1000")),
        workers=int(os.environ.get("BENCH_WORKERS", "4")),
    )


def selected() -> set[str]:
    """BENCH_ONLY=page,send,fanout,email,http,tracking,live,feedback,stats,upkeep picks
    benchmarks (all by default)."""
    raw = os.environ.get("BENCH_ONLY", "")
    return {part.strip() for part in raw.split(",") if part.strip()} or set(ALL)


async def run_page(budget: Budget) -> tuple[list[Comparison], str, float, EncryptionCost]:
    secret_key = secrets.token_urlsafe(48)  # never printed
    customers_page.progress("creating a scratch database")
    url = await dataset.create_database()
    try:
        customers_page.progress("migrating it with tidings.core.db")
        await dataset.migrate(url)
        customers_page.progress(f"loading {CUSTOMERS:,} customers (COPY)")
        loaded_at = time.perf_counter()
        data = await dataset.load(url, CUSTOMERS)
        load_seconds = time.perf_counter() - loaded_at
        comparisons, note, encryption = await customers_page.run(data, secret_key, budget)
    finally:
        with contextlib.suppress(Exception):
            await db.close_db()
        await dataset.drop_database(url)
    return comparisons, note, load_seconds, encryption


async def run() -> int:
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    budget = budget_from_env()
    chosen = selected()
    comparisons: list[Comparison] = []
    note, load_seconds = "", 0.0
    others: list[Result] = []
    if "page" in chosen:
        comparisons, note, load_seconds, encryption = await run_page(budget)
        others.append(encryption)
    if "send" in chosen:
        others.append(await send_latency.run(send_latency.budget_from_env()))
    if "fanout" in chosen:
        fanned = await fanout.run(fanout.customers_from_env())
        others.append(fanned)
        if fanned.encryption is not None:
            others.append(fanned.encryption)
    if "email" in chosen:
        others.append(await mail.run(mail.emails_from_env(), mail.connections_from_env()))
    if "http" in chosen:
        others.append(await http_send.run(http_send.messages_from_env()))
    if "tracking" in chosen:
        others.append(await mail_tracking.run(mail.emails_from_env()))
    if "live" in chosen:
        others.append(await live.run(live_options.options_from_env()))
    if "feedback" in chosen:
        others.append(await feedback.run(budget))
    if "stats" in chosen:
        others.append(await stats.run(stats.deliveries_from_env(), stats.keep_from_env()))
    if "upkeep" in chosen:
        others.append(await stats_upkeep.run(stats_upkeep.options_from_env()))
    print_report(comparisons, note, budget, load_seconds, others)
    busy = max(load_before, os.getloadavg()[0])
    print(f"(whole run {time.perf_counter() - started:.0f} s; highest load average {busy:.1f})")
    if busy > (os.cpu_count() or 1):
        print(busy_note(chosen))
    return 0


def busy_note(chosen: set[str]) -> str:
    """What a busy machine does to the figures, true of the benchmarks that ran: page and
    email interleave their rounds with the baseline's; fan-out and live measure one side,
    then the other (live: the baseline first)."""
    note = "Note: the machine was busy with other work: absolute figures are low."
    interleaved = [
        name
        for name in ("page", "send", "email", "http", "tracking", "feedback", "stats", "upkeep")
        if name in chosen
    ]
    one_then_other = [name for name in ("fanout", "live") if name in chosen]
    if interleaved:
        note += (
            f" The {', '.join(interleaved)} ratios hold better, as their rounds interleave "
            "ours and the baseline."
        )
    if one_then_other:
        note += (
            f" The {' and '.join(one_then_other)} benchmarks measure one side after the other "
            "(live: the baseline first, then ours), so load that came and went can skew their "
            "ratios either way."
        )
    return note


def print_report(
    comparisons: list[Comparison],
    note: str,
    budget: Budget,
    load_seconds: float,
    others: list[Result],
) -> None:
    print()
    if comparisons:
        print(
            f"Tidings benchmarks: {CUSTOMERS:,} customers (2 grants + 1 preference each, loaded "
            f"in {load_seconds:.1f} s), {budget.workers} concurrent clients, warm-up "
            f"{budget.warmup}, up to {budget.requests} requests or {budget.max_seconds:.0f} s per "
            f"figure in {budget.rounds} interleaved rounds, {os.cpu_count()} CPUs."
        )
        print("Ratio: baseline/ours for req/s, ours/baseline for latency; 1.00x = as fast as bare.")
    print(
        "Fan-out and email: ratio = ours/baseline for seconds and memory, baseline/ours for rates."
    )
    print()
    print(table(comparisons, [row for other in others for row in other.rows()]))
    print()
    for comparison in comparisons:
        print(describe(comparison))
    if note:
        print(note)
    for other in others:
        print(other.describe())
    print()
    for other in others:
        print(other.goal())
    if comparisons:
        print(headline_goal(comparisons[0]))
    print()
    print(render(collect(comparisons, others)))


def headline_goal(headline: Comparison) -> str:
    o, b = headline.ours, headline.baseline
    latency, throughput = o.p50 / b.p50, b.rps / o.rps
    met = latency <= GOAL and throughput <= GOAL
    return f"Goal (B2 within {GOAL}x of the bare baseline, {headline.name}): " + (
        f"MET: p50 {latency:.2f}x, req/s {throughput:.2f}x."
        if met
        else f"NOT MET: p50 is {latency:.2f}x and req/s {throughput:.2f}x the baseline's "
        f"(goal {GOAL}x)."
    )


def _run(main: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main() -> int:
    try:
        return _run(run())
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        print(f"bench: FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
