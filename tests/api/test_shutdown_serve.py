"""`tidings serve` for real, in a subprocess: SIGTERM closes a live subscription with 1001
and exits 0; JSON logs carry request ids and no personal data; `/readyz` notices a database
that stops answering."""

from __future__ import annotations

import asyncio
import json
import re
import signal

import httpx

from tests.api.test_cli import Server, free_port, pg_database, tidings  # noqa: F401 (fixture)
from tests.live.procs import (
    NOTIFICATIONS,
    Gql,
    create_category,
    in_app_customer,
    notifications,
    send_in_app,
)
from tests.live.ws import connect

WAIT = 60.0
CUSTOMER_EMAIL = "janet.shutdown-probe@example.net"
CUSTOMER_NAME = "Janet Probe-Leakcheck"
FIELDS = {"time", "level", "logger", "message", "request_id"}


async def admin_token(api: Gql, lines: list[str]) -> str:
    text = "".join(lines)
    email = re.search(r"email:\s+(\S+)", text)
    password = re.search(r"password:\s+(\S+)", text)
    assert email and password, text
    found = await api(
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p)"
        " { token errors { code field message } } }",
        {"e": email.group(1), "p": password.group(1)},
    )
    return found["login"]["token"]


async def test_sigterm_closes_live_sockets_with_1001_and_logs_json(tmp_path):
    server = Server(tmp_path, free_port(), TIDINGS_LOG_FORMAT="json", TIDINGS_SHUTDOWN_SECONDS="20")
    api = Gql(server.port)
    try:
        lines = server.read_until("Tidings on http", timeout=WAIT)
        server.wait_healthy(timeout=WAIT)
        admin = await admin_token(api, lines)
        await create_category(api, admin, "news")
        customer, token = await in_app_customer(api, admin, "probe-customer", "news")
        await api(
            "mutation($i: UpdateCustomerInput!) { updateCustomer(input: $i)"
            " { customer { id } errors { code field message } } }",
            {"i": {"id": customer, "email": CUSTOMER_EMAIL, "name": CUSTOMER_NAME}},
            admin,
        )
        health = await api.client.get(
            f"http://127.0.0.1:{server.port}/healthz", headers={"X-Request-ID": "probe-42"}
        )
        assert health.headers["x-request-id"] == "probe-42"
        async with connect(api.ws_url, token) as client:
            op = await client.subscribe(NOTIFICATIONS)
            await send_in_app(api, admin, customer, "news", f"For {CUSTOMER_NAME}")
            await notifications(client, op, 1, WAIT, "the subscription is live")

            server.process.send_signal(signal.SIGTERM)
            closed = await client.closed(timeout=WAIT)
        assert closed.code == 1001, closed
        code = await asyncio.to_thread(server.process.wait, WAIT)
        assert code == 0
    finally:
        await api.client.aclose()
        server.stop()

    # Every line on standard error is one JSON object with the fields an operator filters on.
    log = (tmp_path / f"serve-{server.port}.log").read_text()
    entries = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert entries and all(FIELDS <= set(entry) for entry in entries), entries[:3]
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    probe = [e for e in access if e["request_id"] == "probe-42"]
    assert [(e["method"], e["path"], e["status"]) for e in probe] == [("GET", "/healthz", 200)]
    graphql = [e for e in access if e.get("path") == "/graphql"]
    assert graphql and all(e["request_id"] for e in graphql)
    assert any(e["logger"] == "tidings.shutdown" for e in entries)
    # No personal data, though the flow stored and sent it.
    for secret in (CUSTOMER_EMAIL, CUSTOMER_NAME, token):
        assert secret not in log


async def test_readyz_notices_a_database_that_stops_answering(tmp_path, pg_database):  # noqa: F811
    assert tidings("migrate", cwd=tmp_path, TIDINGS_DATABASE_URL=pg_database).returncode == 0
    server = Server(
        tmp_path,
        free_port(),
        TIDINGS_DATABASE_URL=pg_database,
        TIDINGS_REDIS_URL="redis://127.0.0.1:6379/0",
        TIDINGS_IN_PROCESS_WORKER="false",
    )
    url = f"http://127.0.0.1:{server.port}"
    try:
        server.wait_healthy(timeout=WAIT)
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "redis": "ok"}

            from tests.conftest import drop_pg_database

            await drop_pg_database(pg_database.rsplit("/", 1)[1])
            gone = await http.get("/readyz")
            assert gone.status_code == 503
            body = gone.json()
            assert body["failed"] == ["database", "migrations"]
            assert body["checks"]["redis"] == "ok"
            assert pg_database.rsplit("/", 1)[1] not in gone.text
            assert (await http.get("/healthz")).status_code == 503
    finally:
        server.stop()
