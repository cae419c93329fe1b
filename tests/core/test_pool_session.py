"""The PostgreSQL pool hands released connections back without asyncpg's reset query
(core/db.py `keep_session`). That holds only while no code leaves session state behind: a
session advisory lock, a LISTEN, a cursor WITH HOLD, a session-level SET. This scans our SQL
for each, so a new one cannot slip in unnoticed; and checks the pool settings themselves."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import PG_ADMIN_DSN
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
    assert connection["credentials"]["reset"] is db.keep_session
    named = db.tortoise_config("postgres://u@127.0.0.1:5432/d?maxsize=3")["connections"]
    assert int(named["default"]["credentials"]["maxsize"]) == 3
    assert db.tortoise_config("sqlite://x.db")["connections"]["default"] == "sqlite://x.db"


async def test_a_transaction_cut_short_is_rolled_back_before_the_connection_is_reused() -> None:
    # One connection: the cancelled task's is the one the next acquire gets.
    pool = await asyncpg.create_pool(PG_ADMIN_DSN, min_size=1, max_size=1, reset=db.keep_session)
    try:
        started = asyncio.Event()

        async def cut_short() -> None:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(4242)")
                await conn.execute("SET LOCAL application_name = 'cut-short'")
                await conn.execute("CREATE TEMP TABLE cut_short (x int) ON COMMIT DROP")
                started.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(cut_short())
        await started.wait()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT current_setting('application_name')") != (
                "cut-short"
            )
            locks = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242"
            assert await conn.fetchval(locks) == 0
            assert await conn.fetchval("SELECT to_regclass('pg_temp.cut_short')") is None
    finally:
        await pool.close()
