"""Benchmark 1: one page of 100 customers with their grants and preferences, as a console
lists them. Ours over HTTP (a `tidings serve` process) and in process; the bare graphql-core
baseline in process and over HTTP (the same uvicorn, a bare Starlette route)."""

from __future__ import annotations

import contextlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from graphql import graphql

from bench import baseline, sealed, servers
from bench.dataset import Dataset
from bench.encryption_cost import EncryptionCost
from bench.encryption_cost import measure as measure_encryption
from bench.load import Budget, Request, interleaved
from bench.report import Comparison
from tidings.core.tokens import TokenKind, TokenSigner

QUERY = (
    "{ customers(first: 100) { edges { node { id externalId name email emailMasked tier locale"
    " timezone permissionGrants { channel category status grantedAt expiresAt } preferences"
    " { category channels frequency quietHours { start end } } } } pageInfo { hasNextPage"
    " endCursor } } }"
)
PAGE = 100

OURS_HTTP = "ours over HTTP"
BASE_HTTP = "baseline over HTTP"
OURS_LOCAL = "ours in process"
BASE_LOCAL = "baseline in process"
# The same, built without the audit log's RecordPiiReads: what recording the page's 100
# `customer.read` entries costs (issue 14: at most 10%).
OURS_LOCAL_NO_AUDIT = "ours in process, audit off"


class BenchmarkError(RuntimeError):
    """A response was wrong: the figures would not mean anything."""


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def check_page(data: Any, who: str) -> None:
    """The page must be what the query asks for, in full."""
    try:
        page = data["customers"]
        edges = page["edges"]
        if len(edges) != PAGE or not page["pageInfo"]["hasNextPage"]:
            raise BenchmarkError(f"{who}: expected {PAGE} edges and a next page")
        for edge in edges:
            node = edge["node"]
            if len(node["permissionGrants"]) != 2 or len(node["preferences"]) != 1:
                raise BenchmarkError(f"{who}: a customer lacks its 2 grants or 1 preference")
            if node["email"] is None:
                raise BenchmarkError(f"{who}: ADMIN was refused a customer's email")
    except (KeyError, TypeError) as error:
        raise BenchmarkError(f"{who}: malformed page ({error!r})") from None


def admin_token(secret_key: str, staff_id: uuid.UUID) -> str:
    return TokenSigner(secret_key, 3600, 3600).issue(TokenKind.STAFF, staff_id, 0)


def tidings_env(dataset: Dataset, secret_key: str) -> dict[str, str]:
    return {
        "TIDINGS_ENV": "production",
        "TIDINGS_DATABASE_URL": dataset.url,
        "TIDINGS_SECRET_KEY": secret_key,
        "TIDINGS_IN_PROCESS_WORKER": "false",
        # Required in production (it was missing: `serve` refused to start without it).
        "TIDINGS_PUBLIC_URL": "https://notify.bench.example",
        **sealed.bench_env(),
    }


@contextlib.asynccontextmanager
async def http_client(
    base: str, headers: dict[str, str], workers: int, who: str
) -> AsyncIterator[tuple[Request, Any]]:
    """A keep-alive client; yields the request and the first response's data (checked)."""
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    headers = {**headers, "content-type": "application/json"}
    url = f"{base}/graphql"
    body = json.dumps({"query": QUERY}).encode()
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        first = await client.post(url, content=body, headers=headers)
        payload = first.json()
        if first.status_code != 200 or payload.get("errors"):
            raise BenchmarkError(f"{who}: HTTP {first.status_code}, errors {payload.get('errors')}")
        check_page(payload.get("data"), who)

        async def request() -> None:
            response = await client.post(url, content=body, headers=headers)
            if response.status_code != 200 or b'"errors"' in response.content:
                raise BenchmarkError(
                    f"{who}: HTTP {response.status_code}, body starts {response.content[:300]!r}"
                )

        yield request, payload["data"]


@contextlib.asynccontextmanager
async def ours_over_http(
    dataset: Dataset, secret_key: str, workers: int
) -> AsyncIterator[tuple[Request, Any]]:
    port = servers.free_port()
    argv = servers.tidings_argv(port)
    token = admin_token(secret_key, dataset.admin_staff_id)
    async with (
        servers.running("tidings serve", argv, tidings_env(dataset, secret_key), port) as base,
        http_client(base, {"authorization": f"Bearer {token}"}, workers, OURS_HTTP) as client,
    ):
        yield client


@contextlib.asynccontextmanager
async def baseline_over_http(dataset: Dataset, workers: int) -> AsyncIterator[tuple[Request, Any]]:
    port = servers.free_port()
    env = {"BENCH_DATABASE_URL": dataset.url, "PYTHONPATH": str(servers.REPO)}
    async with (
        servers.running("baseline server", servers.baseline_argv(port), env, port) as base,
        http_client(base, {}, workers, BASE_HTTP) as client,
    ):
        yield client


@contextlib.asynccontextmanager
async def baseline_in_process(dataset: Dataset) -> AsyncIterator[tuple[Request, Any]]:
    """graphql-core parses, validates and executes the document; the result is JSON-encoded,
    as a server would."""
    pool = await baseline.create_pool(dataset.url)
    schema = baseline.build_schema()
    try:

        async def execute() -> Any:
            result = await graphql(schema, QUERY, context_value=baseline.PageLoads(pool))
            if result.errors:
                raise BenchmarkError(f"{BASE_LOCAL}: {result.errors[0]}")
            json.dumps(result.data, separators=(",", ":"))
            return result.data

        data = await execute()
        check_page(data, BASE_LOCAL)

        async def request() -> None:
            await execute()

        yield request, data
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def ours_in_process(
    dataset: Dataset, secret_key: str, timings: dict[str, float], *, audit: bool = True
) -> AsyncIterator[tuple[Request, Any]]:
    """Our schema executed as the HTTP view would, transport aside: a context built per
    operation inside the request's audit scope, the bearer token authenticated (JWT + one
    query), `schema.execute`, JSON-encoded. Records the mean cost of authentication alone in
    `timings["auth_ms"]`. `audit=False`: a schema that records no personal data reads."""
    from tidings.api.auth import Authenticator
    from tidings.api.runtime import build_runtime
    from tidings.api.settings import Settings
    from tidings.core.audit import RequestInfo, request_scope
    from tidings.core.audit.context import bind_actor, new_request_id
    from tidings.schema import SchemaOptions, build_schema
    from tidings.schema.context import Context

    settings = Settings.load(tidings_env(dataset, secret_key), env_file=None)
    runtime = build_runtime(settings)
    limits = settings.limits
    schema = build_schema(
        SchemaOptions(
            introspection=False,
            max_depth=limits.max_depth,
            max_aliases=limits.max_aliases,
            max_tokens=limits.max_tokens,
            max_page_size=limits.max_page_size,
            record_pii_reads=audit,
        )
    )
    authenticator = Authenticator(runtime.signer, runtime.services.api_keys)
    authorization = f"Bearer {admin_token(secret_key, dataset.admin_staff_id)}"

    async def execute() -> Any:
        with request_scope(RequestInfo(new_request_id(), "127.0.0.1")):
            context = Context(
                services=runtime.services,
                signer=runtime.signer,
                channels=runtime.channels,
                max_page_size=limits.max_page_size,
            )
            viewer = await authenticator.authenticate(authorization)
            if viewer is not None:
                bind_actor(viewer.ref)
            context.raw_viewer = viewer
            result = await schema.execute(QUERY, context_value=context)
        if result.errors:
            raise BenchmarkError(f"{OURS_LOCAL}: {result.errors[0].message}")
        json.dumps(result.data, separators=(",", ":"))
        return result.data

    data = await execute()
    check_page(data, OURS_LOCAL)

    async def request() -> None:
        await execute()

    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        await authenticator.authenticate(authorization)
    timings["auth_ms"] = (time.perf_counter() - started) * 1000 / rounds
    yield request, data


async def run(
    dataset: Dataset, secret_key: str, budget: Budget
) -> tuple[list[Comparison], str, EncryptionCost]:
    timings: dict[str, float] = {}
    async with contextlib.AsyncExitStack() as stack:
        progress("starting tidings serve and the baseline server")
        ours_http, ours_data = await stack.enter_async_context(
            ours_over_http(dataset, secret_key, budget.workers)
        )
        base_http, _ = await stack.enter_async_context(baseline_over_http(dataset, budget.workers))
        ours_local, _ = await stack.enter_async_context(
            ours_in_process(dataset, secret_key, timings)
        )
        ours_local_off, _ = await stack.enter_async_context(
            ours_in_process(dataset, secret_key, {}, audit=False)
        )
        base_local, base_data = await stack.enter_async_context(baseline_in_process(dataset))
        if ours_data != base_data:
            raise BenchmarkError("ours and the baseline returned different data for the query")
        progress(
            f"measuring 5 ways in {budget.rounds} interleaved rounds "
            f"({budget.workers} concurrent clients each)"
        )
        stats = await interleaved(
            {
                OURS_HTTP: ours_http,
                BASE_LOCAL: base_local,
                BASE_HTTP: base_http,
                OURS_LOCAL: ours_local,
                OURS_LOCAL_NO_AUDIT: ours_local_off,
            },
            budget,
        )
        progress("B2: timing the keyring over 200 pages in process")
        encryption = await measure_encryption("B2 customers(first:100)", ours_local, 200, "page")
    comparisons = [
        Comparison(
            "customers(first:100) HTTP vs bare",
            "tidings serve over HTTP",
            "bare graphql-core in process",
            stats[OURS_HTTP],
            stats[BASE_LOCAL],
        ),
        Comparison(
            "customers(first:100) HTTP vs HTTP",
            "tidings serve over HTTP",
            "graphql-core behind a bare Starlette route, same uvicorn",
            stats[OURS_HTTP],
            stats[BASE_HTTP],
        ),
        Comparison(
            "customers(first:100) in process",
            "strawberry schema.execute + auth + ORM",
            "bare graphql-core in process",
            stats[OURS_LOCAL],
            stats[BASE_LOCAL],
        ),
        Comparison(
            "B2 with PII as ADMIN, audit on",
            "schema.execute, 100 customer.read entries a page",
            "the same schema without RecordPiiReads",
            stats[OURS_LOCAL],
            stats[OURS_LOCAL_NO_AUDIT],
        ),
    ]
    note = (
        f"- authentication alone (JWT verify + staff lookup): {timings['auth_ms']:.2f} ms per "
        "request, sequential. Ours and the baseline returned identical data for the query."
    )
    return comparisons, note, encryption
