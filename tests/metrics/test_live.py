"""Live figures from a real server: open websockets and subscriptions follow the clients,
and the bus probe goes through a real Redis (and says so when nothing listens)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import uvicorn

from tests.conftest import Api, make_settings
from tests.core.support import admin, create_customer, raw_id
from tests.live.conftest import free_port
from tests.live.ws import connect
from tests.metrics.support import Samples, parse, value
from tidings.api.app import create_app
from tidings.api.cli import server_options
from tidings.api.metrics import Metrics
from tidings.core.live.redis_bus import RedisBus

REDIS_URL = os.environ.get("TIDINGS_TEST_REDIS", "redis://127.0.0.1:6379/0")
NOTIFICATIONS = "subscription { notifications { id title } }"


@contextlib.asynccontextmanager
async def serving(db: str, **overrides: str) -> AsyncIterator[Api]:
    """A real uvicorn serving the app with metrics on (its lifespan run, as `serve` runs it)."""
    settings = make_settings(
        db, TIDINGS_METRICS="on", TIDINGS_CUSTOMER_TOKEN_TTL="3600", **overrides
    )
    app = create_app(settings, manage_database=False)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", **server_options(settings)
    )
    served = uvicorn.Server(config)
    task = asyncio.create_task(served.serve())
    for _ in range(500):
        if served.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert served.started, "uvicorn did not start"
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield Api(client=client, app=app)
    finally:
        served.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def server(db: str) -> AsyncIterator[Api]:
    async with serving(db) as api:
        yield api


async def until(api: Api, check: Callable[[Samples], bool]) -> Samples:
    """Scrape until `check` holds (generous: the server's tasks run beside the test)."""
    for _ in range(200):
        samples = parse((await api.client.get("/metrics")).text)
        if check(samples):
            return samples
        await asyncio.sleep(0.05)
    raise AssertionError(f"never held: {samples}")


async def test_open_websockets_and_subscriptions_follow_the_clients(server):
    api = server
    _, token = await admin(api)
    customer = await create_customer(api, token)
    ws_url = str(api.client.base_url).replace("http", "ws") + "/graphql"
    customer_token = api.customer_token(raw_id(customer["id"]))
    async with connect(ws_url, customer_token) as client:
        await client.subscribe(NOTIFICATIONS)
        samples = await until(api, lambda s: value(s, "tidings_live_subscriptions") == 1)
        assert value(samples, "tidings_websockets_open") == 1
        assert value(samples, "tidings_bus_probe_success") == 1
        assert value(samples, "tidings_bus_lag_seconds") > 0
    await until(
        api,
        lambda s: (
            value(s, "tidings_websockets_open") == 0 and value(s, "tidings_live_subscriptions") == 0
        ),
    )


async def test_the_bus_probe_goes_through_redis(db):
    bus = RedisBus(REDIS_URL)
    await bus.start()
    try:
        await asyncio.wait_for(bus.connected.wait(), 10)
        metrics = Metrics(bus)
        answer = await metrics.answer("GET", "/metrics", "", "")
        samples = parse(answer.body.decode())
        assert value(samples, "tidings_bus_probe_success") == 1
        assert value(samples, "tidings_bus_lag_seconds") > 0
        assert ("tidings_bus_reconnects_total", frozenset()) in samples
    finally:
        await bus.aclose()


async def test_a_bus_nobody_listens_on_fails_the_probe_and_reports_no_lag(db):
    bus = RedisBus(REDIS_URL, listen=False)  # publishes to Redis, never hears back
    try:
        metrics = Metrics(bus, probe_timeout=0.2)
        answer = await metrics.answer("GET", "/metrics", "", "")
        samples = parse(answer.body.decode())
        assert value(samples, "tidings_bus_probe_success") == 0
        assert ("tidings_bus_lag_seconds", frozenset()) not in samples
    finally:
        await bus.aclose()


async def test_serve_with_a_metrics_port_serves_them_there_and_not_on_its_own(db):
    port = free_port()
    async with serving(db, TIDINGS_METRICS_PORT=str(port)) as api:
        assert (await api.client.get("/metrics")).status_code == 404
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
        assert response.status_code == 200
        assert value(parse(response.text), "tidings_bus_probe_success") == 1
    with pytest.raises(httpx.ConnectError):  # closed with the app
        async with httpx.AsyncClient(timeout=10) as client:
            await client.get(f"http://127.0.0.1:{port}/metrics")
