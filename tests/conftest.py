"""Fixtures: every database test runs on SQLite and on PostgreSQL, each in a database it
creates and drops itself; the app is driven over ASGI with httpx."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import uuid
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher
from tortoise import connections

from tidings.api.app import create_app
from tidings.api.settings import Settings
from tidings.core import db as core_db
from tidings.core.audit.log import chain_emptied
from tidings.core.crypto import Keyring, parse_data_keys, parse_index_key
from tidings.core.enums import Role
from tidings.core.models import Staff
from tidings.core.tokens import TokenKind

PG_ADMIN_DSN = os.environ.get("TIDINGS_TEST_PG", "postgres://postgres@127.0.0.1:5432/postgres")
SECRET = "test-secret-key-" + "x" * 32
# Fixed test keys (base64 of 32 bytes each): every app a test builds agrees with the fixture.
DATA_KEYS = "t1:" + base64.b64encode(b"d" * 32).decode()
BLIND_INDEX_KEY = base64.b64encode(b"i" * 32).decode()
KEYRING = Keyring(parse_data_keys(DATA_KEYS), parse_index_key(BLIND_INDEX_KEY))
PASSWORD = "correct horse battery"
PASSWORD_HASH = PasswordHasher().hash(PASSWORD)


def pg_url(name: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{name}"


async def create_pg_database() -> str:
    name = f"tidings_test_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def scratch(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, for a process of its own (an upgrade, a CLI run): created
    empty and dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'scratch.sqlite3'}"
        return
    name = await create_pg_database()
    try:
        yield pg_url(name)
    finally:
        await drop_pg_database(name)


async def run_process(
    *argv: str, env: dict[str, str] | None = None, seconds: float = 120
) -> tuple[int, str, str]:
    """Run a command to its end: exit code, standard output, standard error."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=PIPE, stderr=PIPE, env={**os.environ, **(env or {})}
    )
    out, err = await asyncio.wait_for(process.communicate(), seconds)
    return process.returncode or 0, out.decode(), err.decode()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated database of each kind, open for the session."""
    if request.param == "sqlite":
        url = f"sqlite://{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        name = None
    else:
        name = await create_pg_database()
        url = pg_url(name)
    await core_db.init_db(url, create_db=request.param == "sqlite", keyring=KEYRING)
    await core_db.migrate(url)
    chain_emptied()
    try:
        yield url
    finally:
        await core_db.close_db()
        if name:
            await drop_pg_database(name)


TABLES = (
    "suppressions",
    "bounce_tallies",
    "webhook_deliveries",
    "webhooks",
    "customer_events",
    "notifications",
    "inbound_replies",
    "delivery_events",
    "deliveries",
    "expansion_jobs",
    "messages",
    "templates",
    "access_grants",
    "api_keys",
    "permission_entries",
    "permission_states",
    "preferences",
    "devices",
    "categories",
    "customers",
    "staff",
    # Last: emptying deliveries on SQLite logs deltas through the stats triggers.
    "stats_deltas",
    "stats_quarters",
    "stats_hours",
    "stats_days",
    "stats_hours_lean",
    "stats_days_lean",
    "stats_pruned",
    "audit_entries",
    "audit_checkpoints",
    "login_throttles",
)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """The session's database, emptied after each test."""
    yield database_url
    conn = connections.get("default")
    if database_url.startswith("sqlite"):
        for table in TABLES:
            await conn.execute_script(f'DELETE FROM "{table}"')
    else:
        await conn.execute_script(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in TABLES) + " RESTART IDENTITY CASCADE"
        )
    chain_emptied()  # this process's guess of the audit chain's tail, as the table now is


def make_settings(database_url: str, **overrides: str) -> Settings:
    environ = {
        "TIDINGS_DATABASE_URL": database_url,
        "TIDINGS_SECRET_KEY": SECRET,
        "TIDINGS_DATA_KEYS": DATA_KEYS,
        "TIDINGS_BLIND_INDEX_KEY": BLIND_INDEX_KEY,
        # Required in production; the development default otherwise.
        "TIDINGS_PUBLIC_URL": "http://127.0.0.1:8000",
        **overrides,
    }
    return Settings.load(environ, env_file=None)


@dataclass
class Api:
    """A client for the app under test, holding its runtime (services, signer)."""

    client: httpx.AsyncClient
    app: Any

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def staff(self, role: Role, email: str | None = None) -> tuple[uuid.UUID, str]:
        """A new staff member of `role` and a token for it."""
        # Hashed once per session: argon2 is slow on purpose, and tests make many staff.
        member = await Staff.create(
            email=email or f"{role.value.lower()}-{secrets.token_hex(3)}@example.com",
            password_hash=PASSWORD_HASH,
            role=role,
        )
        return member.id, self.runtime.signer.issue(TokenKind.STAFF, member.id, 0)

    def customer_token(self, customer_id: uuid.UUID, version: int = 0) -> str:
        return self.runtime.signer.issue(TokenKind.CUSTOMER, customer_id, version)


@pytest.fixture
async def api(db: str) -> AsyncIterator[Api]:
    app = create_app(make_settings(db), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client=client, app=app)
    app.state.runtime.templates.close()  # the lifespan would; ASGITransport runs none


def data(result: dict[str, Any]) -> dict[str, Any]:
    """The data of a result that must have no errors."""
    assert not result.get("errors"), result.get("errors")
    return result["data"]
