"""Benchmark 4: live notifications. N customers (10,000 by default, BENCH_LIVE overrides) hold a
`subscription { notifications { ... } }` each on one `tidings serve` process (PostgreSQL, the
in-process worker and bus); `send` to their tier, then the time until the last socket has its
notification, and the server's memory per subscriber. Then fan-out rounds measure the live layer
alone: one notification event per subscriber published straight onto the server's Redis bus, as
a worker does after its commit (bench/live_fanout.py). Beside it, in the same run (before ours),
a raw websocket broadcast (bench/live_baseline.py) to as many sockets from the same client
processes. Ours is measured BENCH_LIVE_REPEATS times on the same server, reporting stalls
(bench/live_soak.py); the table's figures are the first repetition's."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable

import httpx

from bench import dataset, live_data, live_fanout, live_soak, sealed, servers
from bench.customers_page import BenchmarkError, progress
from bench.live_options import Options
from bench.live_procs import ClientPool, Server, server
from bench.live_report import LiveResult, Round, Side

QUERY = "subscription { notifications { id title body createdAt } }"
TITLE = "Flash sale"
BODY = "Everything in the spring range is 20% off until midnight."
SEND = (
    "mutation($input: SendInput!) { send(input: $input) { message { id status }"
    " errors { code field message } } }"
)
COUNTS = "query($id: ID!) { message(id: $id) { status deliveryCounts { status count } } }"


Trigger = Callable[[int], Awaitable[str]]


async def _rounds(
    srv: Server,
    pool: ClientPool,
    trigger: Trigger,
    options: Options,
    errors: list[str],
    fault: live_soak.Fault = live_soak.NONE,
) -> tuple[list[Round], list[dict]]:
    """`rounds` triggers on the open sockets; returns them and the clients' last answers.
    `fault` strikes before the first."""
    rounds: list[Round] = []
    answers: list[dict] = []
    for number in range(options.rounds):
        if number == 0 and fault.vanish:
            share = int(options.subscribers * fault.vanish / len(pool.processes))
            await pool.all({"cmd": "vanish", "count": share, "slow": fault.slow})
        if number == 0 and fault.before_round is not None:
            await fault.before_round()
        armed = await pool.all({"cmd": "arm"})
        cpu_before = srv.cpu_seconds()
        started = time.time()
        note = await trigger(number)
        answers = await pool.all(
            {
                "cmd": "collect",
                "timeout": options.timeout,
                "grace": options.grace,
                "stall": options.stall,
            }
        )
        received: dict[int, int] = {}
        for answer in answers:
            for count, sockets in answer["received"].items():
                received[int(count)] = received.get(int(count), 0) + sockets
        last = max(a["last"] for a in answers)
        first = min((a["first"] for a in answers if a["first"]), default=0.0)
        rounds.append(
            Round(
                seconds=last - started if last else float("nan"),
                first_seconds=first - started if first else float("nan"),
                received=received,
                stray=sum(a["stray"] for a in armed),
                open_sockets=sum(a["open"] for a in armed),
                server_cpu=srv.cpu_seconds() - cpu_before,
                note=note,
                expected=sum(sum(a["received"].values()) for a in answers),
                stalled=" | ".join(a["stalled"] for a in answers if a["stalled"]),
            )
        )
        errors += [e for a in answers for e in a["errors"]]
        await srv.settle()
    return rounds, answers


async def _measure(
    srv: Server,
    pool: ClientPool,
    tokens: list[str | None],
    trigger: Trigger,
    options: Options,
    fanout: Trigger | None = None,
    fault: live_soak.Fault = live_soak.NONE,
) -> Side:
    """Warm up with one socket, settle, connect everyone, settle, then `rounds` triggers (and
    as many fan-out rounds after them, when given)."""
    await pool.connect(srv.ws_url, tokens[:1], QUERY, 1, options.deflate, options.stall)
    await pool.all({"cmd": "close"})
    await srv.settle()
    rss_before = srv.rss_mb()
    progress(f"live: {srv.name}: opening {len(tokens):,} subscriptions")
    async with live_soak.beside(fault.during_connect):
        answers = await pool.connect(
            srv.ws_url, tokens, QUERY, options.wave, options.deflate, options.stall
        )
    answers_connect = answers
    connected = sum(a["connected"] for a in answers)
    failed = sum(a["failed"] for a in answers)
    errors = [e for a in answers for e in a["errors"]]
    connect_seconds = max(a["seconds"] for a in answers)
    settle_seconds = await srv.settle(quiet=2.0)
    rss_after = srv.rss_mb()
    with live_fanout.profiled(srv.pid, options.profile_send if fanout is not None else ""):
        rounds, answers = await _rounds(srv, pool, trigger, options, errors, fault)
    fanout_rounds: list[Round] = []
    if fanout is not None:
        progress(f"live: {srv.name}: fan-out rounds (publishing straight onto the bus)")
        with live_fanout.profiled(srv.pid, options.profile):
            fanout_rounds, answers = await _rounds(srv, pool, fanout, options, errors)
    rss_end = srv.rss_mb()
    closes: dict[str, int] = {}
    for answer in answers:
        for reason, count in answer["closes"].items():
            closes[reason] = closes.get(reason, 0) + count
    await pool.all({"cmd": "close"})
    return Side(
        subscribers=len(tokens),
        connected=connected,
        failed=failed,
        connect_seconds=connect_seconds,
        settle_seconds=settle_seconds,
        rss_before_mb=rss_before,
        rss_after_mb=rss_after,
        rss_end_mb=rss_end,
        rounds=rounds,
        errors=sorted(set(errors))[:10],
        closes=closes,
        trouble=srv.trouble(),
        fanout=fanout_rounds,
        ack_stalls=sum(a["ack_stalls"] for a in answers_connect),
        fault=fault.name,
    )


async def _baseline(pool: ClientPool, options: Options) -> Side:
    port = servers.free_port()
    async with (
        server("baseline", ["bench.live_baseline", str(port)], {}, port) as srv,
        httpx.AsyncClient(timeout=60) as http,
    ):

        async def trigger(number: int) -> str:
            response = await http.post(
                f"{srv.base}/broadcast", json={"title": f"{TITLE} {number}", "body": BODY}
            )
            response.raise_for_status()
            return f"{response.json()['subscribers']} registered"

        return await _measure(srv, pool, [None] * options.subscribers, trigger, options)


async def _ours(
    pool: ClientPool, options: Options, url: str, redis_url: str, data: live_data.LiveData
) -> list[Side]:
    secret_key = secrets.token_urlsafe(48)  # never printed
    env = {
        "TIDINGS_ENV": "production",
        "TIDINGS_DATABASE_URL": url,
        "TIDINGS_REDIS_URL": redis_url,
        "TIDINGS_SECRET_KEY": secret_key,
        "TIDINGS_PUBLIC_URL": "https://notify.bench.example",  # required in production
        "TIDINGS_WORKER_BATCH_SIZE": str(options.batch_size),
        "TIDINGS_TIER_POLICY": live_data.TIER_POLICY,
        **options.server_env,
        **sealed.bench_env(),
    }
    port = servers.free_port()
    argv = ["tidings.api.cli", "serve", "--port", str(port), "--log-level", "warning"]
    headers = {"authorization": f"Bearer {data.staff_token(secret_key)}"}
    progress(f"live: signing {len(data.customer_ids):,} customer tokens")
    tokens: list[str | None] = list(data.customer_tokens(secret_key))
    run_id = secrets.token_hex(4)
    progress(f"live: encoding {options.rounds} fan-out rounds of bus messages")
    prepared = [
        live_fanout.messages(data.customer_ids, f"{TITLE} fan-out {n}", BODY, live_data.CATEGORY)
        for n in range(options.rounds)
    ]
    publisher = live_fanout.Publisher(redis_url, prepared)
    async with (
        server("tidings serve", argv, env, port) as srv,
        httpx.AsyncClient(timeout=60, headers=headers) as http,
    ):
        await publisher.wait_listening()

        async def graphql(query: str, variables: dict) -> dict:
            response = await http.post(
                f"{srv.base}/graphql", json={"query": query, "variables": variables}
            )
            body = response.json()
            if response.status_code != 200 or body.get("errors"):
                raise BenchmarkError(f"live: HTTP {response.status_code}: {json.dumps(body)}")
            return body["data"]

        sent: list[str] = []
        runs: list[int] = []  # one entry per trigger ever made: idempotency keys stay unique

        async def trigger(number: int) -> str:
            payload = {
                "idempotencyKey": f"live-{run_id}-{len(runs)}-{number}",
                "category": live_data.CATEGORY,
                "to": {"tier": live_data.TIER},
                "channels": [live_data.CHANNEL],
                "content": {"title": f"{TITLE} {number}", "body": BODY},
            }
            result = (await graphql(SEND, {"input": payload}))["send"]
            if result["errors"] or not result["message"]:
                raise BenchmarkError(f"live: send refused: {result['errors']}")
            sent.append(result["message"]["id"])
            runs.append(number)
            return ""

        sides: list[Side] = []
        soak = live_soak.faults(url, redis_url) if options.soak else None
        try:
            for repetition, fault in enumerate(live_soak.plan(options.repeats, soak), 1):
                progress(f"live: repetition {repetition} of {options.repeats} ({fault.name})")
                if repetition > 1:
                    autovacuum, dead = await live_data.vacuum(url)
                    progress(
                        f"live: vacuumed {dead:,} dead deliveries (autovacuum "
                        f"{'on' if autovacuum else 'off'} here), as autovacuum would"
                    )
                sent.clear()
                side = await _measure(srv, pool, tokens, trigger, options, publisher.publish, fault)
                for number, message_id in enumerate(sent):
                    message = (await graphql(COUNTS, {"id": message_id}))["message"]
                    counts = ", ".join(
                        f"{c['status']} {c['count']:,}" for c in message["deliveryCounts"]
                    )
                    side.rounds[number].note = f"message {message['status']}: {counts}"
                sides.append(side)
                progress(f"live: repetition {repetition}: {side.stall_summary() or 'no stall'}")
        finally:
            await publisher.aclose()
    return sides


async def run(options: Options) -> LiveResult:
    from tidings.core import db

    progress(f"live: {options.subscribers:,} subscribers from {options.processes} client processes")
    async with ClientPool.started(options.processes) as pool:
        progress("live: baseline (raw websocket broadcast, uvicorn + Starlette)")
        baseline = await _baseline(pool, options)
        progress("live: creating a scratch database")
        url = await dataset.create_database()
        try:
            await dataset.migrate(url)
            await db.close_db()
            loaded_at = time.perf_counter()
            data = await live_data.load(url, options.subscribers)
            load_seconds = time.perf_counter() - loaded_at
            progress("live: tidings serve, its bus on a redis-server of the benchmark's own")
            async with live_fanout.redis_server() as redis_url:
                repeats = await _ours(pool, options, url, redis_url, data)
        finally:
            await dataset.drop_database(url)
    return LiveResult(
        subscribers=options.subscribers,
        processes=options.processes,
        batch_size=options.batch_size,
        deflate=options.deflate,
        load_seconds=load_seconds,
        ours=repeats[0],
        baseline=baseline,
        repeats=repeats,
    )
