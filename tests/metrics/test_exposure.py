"""Where the metrics are served and to whom: off by default, `/metrics` when on, a port of
their own when asked, a bearer token when set; a scrape costs two statements."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import Api, make_settings
from tests.metrics.support import names, parse, scrape
from tests.sql_statements import statement_log
from tidings.api.app import create_app
from tidings.api.metrics import Metrics, MetricsServer
from tidings.api.runtime import build_runtime
from tidings.api.settings import SettingsError


@pytest.fixture
async def metrics_api(db: str) -> AsyncIterator[Api]:
    app = create_app(make_settings(db, TIDINGS_METRICS="on"), manage_database=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield Api(client=c, app=app)
    app.state.runtime.templates.close()


async def test_metrics_are_off_by_default(api):
    assert api.runtime.metrics is None
    assert (await api.client.get("/metrics")).status_code == 404


async def test_on_the_exposition_parses_and_names_every_family(metrics_api):
    text = (await metrics_api.client.get("/metrics")).text
    for family in (
        "tidings_deliveries",
        "tidings_queue_deliveries",
        "tidings_provider_errors_total",
    ):
        assert f"# TYPE {family} " in text  # no samples yet: nothing was sent
    samples = await scrape(metrics_api)
    assert {
        "tidings_websockets_open",
        "tidings_live_subscriptions",
        "tidings_bus_probe_success",
        "tidings_bus_lag_seconds",
    } <= names(samples)
    # The in-process bus hands the probe straight back.
    assert samples[("tidings_bus_probe_success", frozenset())] == 1
    # OpenMetrics for a scraper that asks for it.
    response = await metrics_api.client.get(
        "/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


async def test_a_scrape_reads_the_database_in_two_statements(metrics_api):
    await scrape(metrics_api)  # connections warmed
    with statement_log() as log:
        await scrape(metrics_api)
    assert len(log.statements) == 2, log.statements
    assert {"stats_days", "deliveries"} <= {t for s in log.statements for t in s.split()}


async def test_a_token_is_required_when_set(db):
    settings = make_settings(db, TIDINGS_METRICS="on", TIDINGS_METRICS_TOKEN="scrape-" + "s" * 24)
    assert "scrape-" not in repr(settings)
    app = create_app(settings, manage_database=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/metrics")).status_code == 401
        wrong = await c.get("/metrics", headers={"authorization": "Bearer scrape-wrong"})
        assert wrong.status_code == 401
        right = await c.get("/metrics", headers={"authorization": "Bearer scrape-" + "s" * 24})
        assert right.status_code == 200
        assert "tidings_queue_deliveries" in right.text
    app.state.runtime.templates.close()


async def test_with_a_port_the_api_serves_no_metrics_and_the_port_does(db):
    settings = make_settings(db, TIDINGS_METRICS="on", TIDINGS_METRICS_PORT="9464")
    app = create_app(settings, manage_database=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/metrics")).status_code == 404
    runtime = app.state.runtime
    runtime.templates.close()
    assert (runtime.settings.metrics_host, runtime.settings.metrics_port) == ("127.0.0.1", 9464)


async def test_the_metrics_server_answers_http(db):
    server = MetricsServer(Metrics(None), "127.0.0.1", 0)
    await server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            ok = await client.get("/metrics")
            assert ok.status_code == 200
            assert "# TYPE tidings_queue_deliveries gauge" in ok.text
            parse(ok.text)
            assert "tidings_websockets_open" not in ok.text  # no bus: a worker's figures
            head = await client.head("/metrics")
            assert (head.status_code, head.content) == (200, b"")
            assert (await client.get("/")).status_code == 404
            assert (await client.post("/metrics")).status_code == 405
        # Not HTTP at all: 400, and the connection is closed.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"HELLO\r\n\r\n")
        await writer.drain()
        assert (await reader.read()).startswith(b"HTTP/1.1 400 ")
        writer.close()
        # A head that never ends within the size limit is dropped without an answer.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n")
        await writer.drain()
        assert await reader.read() == b""
        writer.close()
    finally:
        await server.aclose()


@pytest.mark.parametrize(
    "overrides",
    [
        {"TIDINGS_METRICS": "maybe"},
        {"TIDINGS_METRICS_PORT": "9464"},  # without TIDINGS_METRICS=on
        {"TIDINGS_METRICS": "on", "TIDINGS_METRICS_PORT": "70000"},
        {"TIDINGS_METRICS": "on", "TIDINGS_METRICS_PORT": "http"},
    ],
)
def test_bad_metrics_settings_stop_the_process(overrides):
    with pytest.raises(SettingsError, match="TIDINGS_METRICS"):
        make_settings("sqlite://unused.sqlite3", **overrides)


def test_defaults_are_off_on_loopback_without_a_token():
    settings = make_settings("sqlite://unused.sqlite3")
    assert (settings.metrics, settings.metrics_port) == (False, None)
    assert (settings.metrics_host, settings.metrics_token) == ("127.0.0.1", None)


def test_a_worker_with_metrics_but_no_port_says_so(caplog):
    settings = make_settings("sqlite://unused.sqlite3", TIDINGS_METRICS="on")
    with caplog.at_level(logging.WARNING, logger="tidings"):
        runtime = build_runtime(settings, listen=False)
    runtime.templates.close()
    assert "TIDINGS_METRICS_PORT" in caplog.text
