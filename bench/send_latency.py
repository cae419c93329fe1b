"""B3: `send` to one customer over HTTP, p99 latency at 8 concurrent clients, beside a
`{__typename}` query over the same `tidings serve`, the same clients and connections.

The difference is what a send costs past the HTTP and GraphQL layers: authentication, the
idempotency key, the policy decision and the transaction that records the message and its
delivery. Each request has a fresh idempotency key, so every one is a real send. The worker
is off in the server (TIDINGS_IN_PROCESS_WORKER=false): delivering would be background load
that `{__typename}` does not have. Measured in interleaved rounds (bench/load.py).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
from dataclasses import dataclass

import asyncpg
import httpx

from bench import dataset, servers
from bench.customers_page import BenchmarkError, admin_token, progress, tidings_env
from bench.load import Budget, Request, Stats, interleaved
from bench.summary import GoalRow

GOAL = 5.0  # issue 15: send's p99 at most 5x {__typename}'s
CLIENTS = 8
CUSTOMERS = 100
CATEGORY = "orders"
SEND = (
    "mutation Send($input: SendInput!) { send(input: $input) "
    "{ message { id status } errors { code message } } }"
)
TYPENAME = "{ __typename }"
OURS = "send to one customer"
BASE = "{__typename}"


@dataclass(frozen=True)
class SendLatencyResult:
    ours: Stats
    baseline: Stats
    clients: int

    @property
    def ratio(self) -> float:
        return self.ours.p99 / self.baseline.p99

    def rows(self) -> list[tuple[str, str, str, str]]:
        o, b = self.ours, self.baseline
        name = f"B3 send to one customer, {self.clients} clients"
        return [
            (f"{name}: p50 ms", f"{o.p50:.2f}", f"{b.p50:.2f}", f"{o.p50 / b.p50:.2f}x"),
            (f"{name}: p99 ms", f"{o.p99:.2f}", f"{b.p99:.2f}", f"{self.ratio:.2f}x"),
            (f"{name}: req/s", f"{o.rps:.0f}", f"{b.rps:.0f}", f"{b.rps / o.rps:.2f}x"),
        ]

    def describe(self) -> str:
        return (
            f"- B3: ours = `send` (TRANSACTIONAL category, one customer, in_app, a fresh "
            f"idempotency key each) over HTTP to `tidings serve` on PostgreSQL, "
            f"{self.ours.requests} requests; baseline = `{TYPENAME}` over the same server and "
            f"{self.clients} keep-alive clients, {self.baseline.requests} requests. p99 "
            f"{self.ours.p99:.1f} ms against {self.baseline.p99:.1f} ms: {self.ratio:.2f}x."
        )

    def goal(self) -> str:
        verdict = "MET" if self.ratio <= GOAL else "NOT MET"
        return f"Goal (B3 send p99 at most {GOAL:g}x {TYPENAME}'s): {verdict}: {self.ratio:.2f}x."

    def summary(self) -> list[GoalRow]:
        return [
            GoalRow(
                "B3",
                f"send p99, {self.clients} clients",
                f"{self.ours.p99:.1f} ms",
                f"{self.baseline.p99:.1f} ms",
                self.ratio,
                GOAL,
            )
        ]


def budget_from_env() -> Budget:
    """BENCH_SEND_REQUESTS overrides the number of requests per side (1,000)."""
    return Budget(requests=int(os.environ.get("BENCH_SEND_REQUESTS", "1000")), workers=CLIENTS)


async def run(budget: Budget) -> SendLatencyResult:
    from tidings.core import db

    secret_key = secrets.token_urlsafe(48)  # never printed
    progress("B3: a scratch database")
    url = await dataset.create_database()
    try:
        await dataset.migrate(url)
        data = await dataset.load(url, CUSTOMERS)
        await db.close_db()
        await _add_category(url)
        port = servers.free_port()
        argv = servers.tidings_argv(port)
        async with servers.running(
            "tidings serve", argv, tidings_env(data, secret_key), port
        ) as base:
            token = admin_token(secret_key, data.admin_staff_id)
            stats = await _measure(base, token, budget)
    finally:
        with contextlib.suppress(Exception):
            await db.close_db()
        await dataset.drop_database(url)
    return SendLatencyResult(stats[OURS], stats[BASE], budget.workers)


async def _add_category(url: str) -> None:
    from tidings.core.ids import new_id

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO categories (id, key, name, kind, default_channels,"
            " respect_quiet_hours, required, created_at, updated_at)"
            " VALUES ($1, $2, 'Orders', 'TRANSACTIONAL', '[\"in_app\"]', FALSE, FALSE,"
            " now(), now())",
            new_id(),
            CATEGORY,
        )
    finally:
        await conn.close()


async def _measure(base: str, token: str, budget: Budget) -> dict[str, Stats]:
    limits = httpx.Limits(max_connections=budget.workers, max_keepalive_connections=budget.workers)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    url = f"{base}/graphql"
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:

        async def post(body: bytes, who: str) -> dict:
            response = await client.post(url, content=body)
            payload = response.json()
            if response.status_code != 200 or payload.get("errors"):
                raise BenchmarkError(f"{who}: HTTP {response.status_code}, {response.text[:300]}")
            return payload["data"]

        page = await post(
            json.dumps({"query": "{ customers(first: 1) { edges { node { id } } } }"}).encode(),
            "B3 setup",
        )
        customer_id = page["customers"]["edges"][0]["node"]["id"]
        keys = itertools.count()
        typename = json.dumps({"query": TYPENAME}).encode()

        async def send() -> None:
            variables = {
                "input": {
                    "idempotencyKey": f"b3-{next(keys)}",
                    "category": CATEGORY,
                    "to": {"customerId": customer_id},
                    "content": {"title": "Your order shipped", "body": "It is on its way."},
                }
            }
            data = await post(json.dumps({"query": SEND, "variables": variables}).encode(), OURS)
            if data["send"]["errors"] or data["send"]["message"] is None:
                raise BenchmarkError(f"{OURS}: {data['send']['errors']}")

        async def query() -> None:
            await post(typename, BASE)

        await send()
        requests: dict[str, Request] = {OURS: send, BASE: query}
        progress(f"B3: {budget.rounds} interleaved rounds, {budget.workers} clients")
        return await interleaved(requests, budget)
