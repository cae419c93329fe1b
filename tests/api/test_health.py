"""`/readyz`, in process on both databases: ready, Redis unreachable, schema behind. (A
database that stops answering is checked against a real `serve` in test_shutdown_serve.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from tortoise import connections

from tests.api.test_cli import free_port
from tests.conftest import make_settings
from tidings.api.app import create_app


@asynccontextmanager
async def client(db: str, **settings: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(db, **settings), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http
    finally:
        app.state.runtime.templates.close()


async def test_ready_when_the_database_answers_and_the_schema_is_current(db):
    async with client(db) as http:
        response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}


async def test_redis_is_checked_when_configured(db):
    async with client(db, TIDINGS_REDIS_URL="redis://127.0.0.1:6379/0") as http:
        response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "migrations": "ok", "redis": "ok"}


async def test_not_ready_when_redis_does_not_answer(db):
    port = free_port()  # nobody listens there
    async with client(db, TIDINGS_REDIS_URL=f"redis://:hunter2@127.0.0.1:{port}/0") as http:
        response = await http.get("/readyz")
        assert (await http.get("/healthz")).status_code == 200  # alive all the same
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["failed"] == ["redis"]
    assert body["checks"]["redis"] == "unavailable" and body["checks"]["database"] == "ok"
    for secret in (str(port), "hunter2", "127.0.0.1", "redis://"):
        assert secret not in response.text


async def test_not_ready_while_the_schema_is_behind(db):
    conn = connections.get("default")
    table = "tortoise_migrations"
    rows = await conn.execute_query_dict(f"SELECT * FROM {table} ORDER BY id DESC LIMIT 1")
    last = rows[0]
    await conn.execute_query(f"DELETE FROM {table} WHERE id = {int(last['id'])}")
    try:
        async with client(db) as http:
            response = await http.get("/readyz")
    finally:
        marks = ", ".join(
            f"${n}" if db.startswith("postgres") else "?" for n in range(1, len(last) + 1)
        )
        await conn.execute_query(
            f"INSERT INTO {table} ({', '.join(last)}) VALUES ({marks})", list(last.values())
        )
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["migrations"]
    assert body["checks"] == {"database": "ok", "migrations": "behind"}
    assert last["name"] not in response.text  # which migration is for `tidings migrate` to say
