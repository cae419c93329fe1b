"""The rollups' upkeep: what the stats triggers on `deliveries` (and folding the deltas they
write) cost B1 (fan-out) and B5 (email). Each is run with the triggers enabled and disabled
(ALTER TABLE deliveries ENABLE/DISABLE TRIGGER tidings_stats_*) in interleaved rounds on one
database, the order flipping every round; an enabled round also counts the time
`fold_deltas` takes to fold what it wrote, and how many delta rows that was.

Fan-out: BENCH_UPKEEP_FANOUT customers (200,000 by default: 300,000 deliveries a run), the B1
child process (send to the tier, expand_due until done), the messages and stats emptied
before every run. Email: BENCH_UPKEEP_EMAILS a side (4,000 by default), the B5 worker loop
through the real SMTP provider to the aiosmtpd sink; a round queues its own customers."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

import asyncpg

from bench import dataset, fanout, fanout_data, mail, sealed, stats_data
from bench.customers_page import BenchmarkError, progress

DEFAULT_FANOUT = 200_000
DEFAULT_EMAILS = 4_000
FANOUT_ROUNDS = 3
MAIL_ROUNDS = 4
GOAL = 1.10  # the issue's: the upkeep costs B1 and B5 at most 10%
STATS_TABLES = "stats_deltas, stats_quarters, stats_hours, stats_days"


@dataclass(frozen=True)
class Options:
    customers: int
    emails: int


@dataclass(frozen=True)
class Pair:
    """One benchmark's runs: seconds with the triggers on (plus the fold's) and off."""

    name: str
    rows: int  # deliveries written or sent per run
    on: tuple[float, ...]
    fold: tuple[float, ...]
    off: tuple[float, ...]
    deltas: tuple[int, ...]

    @property
    def ratio(self) -> float:
        return (sum(self.on) + sum(self.fold)) / sum(self.off)

    def row(self) -> tuple[str, str, str, str]:
        on = (sum(self.on) + sum(self.fold)) / len(self.on)
        return (
            f"upkeep {self.name}: s/run",
            f"{on:.2f}",
            f"{sum(self.off) / len(self.off):.2f}",
            f"{self.ratio:.2f}x",
        )

    def describe(self) -> str:
        return (
            f"{self.name} ({self.rows:,} deliveries a run, {len(self.on)} runs each way): "
            f"triggers on {sum(self.on):.2f} s + fold {sum(self.fold):.2f} s, off "
            f"{sum(self.off):.2f} s = {self.ratio:.2f}x (runs on: {_list(self.on)}; off: "
            f"{_list(self.off)}); delta rows per run {', '.join(f'{d:,}' for d in self.deltas)}"
        )


def _list(seconds: tuple[float, ...]) -> str:
    return ", ".join(f"{s:.2f}" for s in seconds)


@dataclass(frozen=True)
class UpkeepResult:
    fanout: Pair
    mail: Pair
    triggers: tuple[str, ...]

    def rows(self) -> list[tuple[str, str, str, str]]:
        return [self.fanout.row(), self.mail.row()]

    def describe(self) -> str:
        return (
            f"- upkeep: the stats triggers ({', '.join(self.triggers)}) on vs off, interleaved, "
            f"fold_deltas after every run with them on, counted in. {self.fanout.describe()}. "
            f"{self.mail.describe()}. Ratio = (on + fold) / off."
        )

    def goal(self) -> str:
        worst = max(self.fanout.ratio, self.mail.ratio)
        verdict = "MET" if worst <= GOAL else "NOT MET"
        return (
            f"Goal (the rollups' upkeep costs B1 and B5 at most {GOAL - 1:.0%}): {verdict}: "
            f"fan-out {self.fanout.ratio:.2f}x, email {self.mail.ratio:.2f}x."
        )


def options_from_env() -> Options:
    return Options(
        customers=int(os.environ.get("BENCH_UPKEEP_FANOUT", str(DEFAULT_FANOUT))),
        emails=int(os.environ.get("BENCH_UPKEEP_EMAILS", str(DEFAULT_EMAILS))),
    )


async def _triggers(url: str, enabled: bool) -> tuple[str, ...]:
    conn = await asyncpg.connect(url)
    try:
        names = await stats_data.set_triggers(conn, enabled)
    finally:
        await conn.close()
    if not names:
        raise BenchmarkError("upkeep: no tidings_stats_* trigger on deliveries")
    return tuple(names)


async def _deltas(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM stats_deltas")
    finally:
        await conn.close()


async def _fold() -> float:
    from tidings.core.stats.fold import fold_all

    started = time.perf_counter()
    await fold_all()
    return time.perf_counter() - started


def _order(r: int) -> tuple[bool, bool]:
    return (True, False) if r % 2 == 0 else (False, True)


async def _fanout(customers: int) -> tuple[Pair, tuple[str, ...]]:
    from tidings.core import db

    url = await dataset.create_database()
    on: list[float] = []
    off: list[float] = []
    fold: list[float] = []
    deltas: list[int] = []
    names: tuple[str, ...] = ()
    expected = fanout_data.expected_deliveries(customers)
    try:
        await dataset.migrate(url)
        await db.close_db()
        progress(f"upkeep: fan-out to {customers:,} customers, triggers on and off")
        await fanout_data.load(url, customers)
        await db.init_db(url, keyring=sealed.KEYRING)
        for r in range(FANOUT_ROUNDS):
            for enabled in _order(r):
                conn = await asyncpg.connect(url)
                try:
                    await conn.execute("TRUNCATE messages CASCADE")
                    await conn.execute(f"TRUNCATE {STATS_TABLES}")
                    await conn.execute("VACUUM ANALYZE deliveries")
                finally:
                    await conn.close()
                names = await _triggers(url, enabled)
                side = await fanout._child("expand", url)
                if side["rows"] != expected:
                    raise BenchmarkError(f"upkeep: fan-out wrote {side['rows']}, want {expected}")
                (on if enabled else off).append(side["seconds"])
                if enabled:
                    deltas.append(await _deltas(url))
                    fold.append(await _fold())
                    if await _deltas(url):
                        raise BenchmarkError("upkeep: fold_deltas left deltas behind")
    finally:
        with contextlib.suppress(Exception):
            await db.close_db()
        await dataset.drop_database(url)
    pair = Pair("fan-out (B1)", expected, tuple(on), tuple(fold), tuple(off), tuple(deltas))
    return pair, names


async def _mail(emails: int) -> Pair:
    from tidings.core import db
    from tidings.core.delivery.registry import ProviderRegistry
    from tidings.core.delivery.tiers import TierPolicies
    from tidings.core.delivery.worker import DeliveryWorker
    from tidings.core.enums import Role
    from tidings.core.ids import new_id
    from tidings.core.services import Services
    from tidings.core.viewer import Viewer, ViewerKind
    from tidings.providers.smtp import SmtpEmailProvider, SmtpSettings

    per_run = -(-emails // MAIL_ROUNDS)
    total = mail.WARMUP + per_run * MAIL_ROUNDS * 2
    on: list[float] = []
    off: list[float] = []
    fold: list[float] = []
    deltas: list[int] = []
    progress(f"upkeep: email, {MAIL_ROUNDS} rounds of {per_run:,} each way, triggers on and off")
    url = await dataset.create_database()
    try:
        ids = [r["id"] for r in await mail.prepare(url, total)]
        tiers = TierPolicies()
        services = Services.build(frozenset({"email"}), tiers)
        viewer = Viewer(ViewerKind.STAFF, new_id(), Role.ADMIN)
        async with mail.sink() as (port, received):
            settings = SmtpSettings(
                host="127.0.0.1", port=port, sender=mail.SENDER, security="none"
            )
            registry = ProviderRegistry([SmtpEmailProvider(settings)])
            worker = DeliveryWorker(registry, tiers, mail.worker_options(), links=services.links)
            try:
                await mail._queue(url, services, viewer, ids[: mail.WARMUP], "warm")
                await worker.drain()
                await _fold()
                start = mail.WARMUP
                for r in range(MAIL_ROUNDS):
                    for enabled in _order(r):
                        await _triggers(url, enabled)
                        chunk = ids[start : start + per_run]
                        await mail._queue(url, services, viewer, chunk, f"up-{start}")
                        before = await _deltas(url)
                        started = time.perf_counter()
                        await worker.drain()
                        (on if enabled else off).append(time.perf_counter() - started)
                        if enabled:
                            deltas.append(await _deltas(url) - before)
                            fold.append(await _fold())
                        start += per_run
            finally:
                await registry.aclose()
        await _triggers(url, True)
    finally:
        with contextlib.suppress(Exception):
            await db.close_db()
        await dataset.drop_database(url)
    if received != [total]:
        raise BenchmarkError(f"upkeep: the sink got {received} messages, want {total}")
    return Pair("email (B5)", per_run, tuple(on), tuple(fold), tuple(off), tuple(deltas))


async def run(options: Options) -> UpkeepResult:
    fanout_pair, names = await _fanout(options.customers)
    mail_pair = await _mail(options.emails)
    return UpkeepResult(fanout_pair, mail_pair, names)
