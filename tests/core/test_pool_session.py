"""The PostgreSQL pool hands released connections back without asyncpg's reset query
(core/db.py `_keep_session`). That holds only while no code leaves session state behind: a
session advisory lock, a LISTEN, a cursor WITH HOLD, a session-level SET. This scans our SQL
for each, so a new one cannot slip in unnoticed; and checks the pool settings themselves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tidings.core import db

ROOT = Path(db.__file__).resolve().parents[1]
PACKAGES = ("api", "core", "plugins", "providers", "schema")  # the service, not bench/ or tests/
# Session state a released connection would carry to its next borrower.
SESSION_STATE = {
    "session advisory lock": re.compile(r"pg_(try_)?advisory_lock(_shared)?\s*\(", re.I),
    "LISTEN": re.compile(r"""["'(\s]LISTEN\s+["\w]"""),  # SQL spells it in capitals here
    "cursor WITH HOLD": re.compile(r"\bWITH\s+HOLD\b", re.I),
    "session SET": re.compile(r"""["']\s*SET\s+(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)[a-z_]+\b"""),
    "set_config for the session": re.compile(r"set_config\s*\([^)]*false\s*\)", re.I),
}


def _sources() -> list[Path]:
    return [path for package in PACKAGES for path in (ROOT / package).rglob("*.py")]


@pytest.mark.parametrize("what", sorted(SESSION_STATE))
def test_no_code_leaves_session_state_on_a_pooled_connection(what):
    pattern = SESSION_STATE[what]
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _sources()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert not found, f"{what} in {found}: restore asyncpg's reset in core/db.py first"


def test_the_patterns_catch_what_they_name():
    samples = {
        "session advisory lock": 'await conn.execute_query("SELECT pg_advisory_lock($1)")',
        "LISTEN": 'await conn.execute("LISTEN tidings")',
        "cursor WITH HOLD": '"DECLARE c CURSOR WITH HOLD FOR SELECT 1"',
        "session SET": '"SET statement_timeout = 5"',
        "set_config for the session": "\"SELECT set_config('x.y', '1', false)\"",
    }
    for what, sample in samples.items():
        assert SESSION_STATE[what].search(sample), what
    assert not SESSION_STATE["session SET"].search('"SET LOCAL plan_cache_mode = x"')
    assert not SESSION_STATE["session advisory lock"].search('"SELECT pg_advisory_xact_lock($1)"')


def test_postgres_pool_settings():
    connection = db.tortoise_config("postgres://u@127.0.0.1:5432/d")["connections"]["default"]
    assert connection["credentials"]["maxsize"] == db.POOL_MAXSIZE
    assert connection["credentials"]["reset"] is db._keep_session
    named = db.tortoise_config("postgres://u@127.0.0.1:5432/d?maxsize=3")["connections"]
    assert int(named["default"]["credentials"]["maxsize"]) == 3
    assert db.tortoise_config("sqlite://x.db")["connections"]["default"] == "sqlite://x.db"


async def test_a_released_connection_goes_back_outside_any_transaction(database_url):
    from tortoise import connections
    from tortoise.transactions import in_transaction

    if not database_url.startswith("postgres"):
        pytest.skip("the pool is PostgreSQL's")
    client = connections.get("default")
    async with in_transaction() as conn:
        await conn.execute_query("SELECT 1")
    for _ in range(client.pool_maxsize + 1):  # every pooled connection, at least once
        async with client.acquire_connection() as connection:
            assert not connection.is_in_transaction()
            assert await connection.fetchval("SELECT 1") == 1
