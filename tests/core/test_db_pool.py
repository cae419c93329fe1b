"""PostgreSQL connections go back to the pool without asyncpg's session reset (a round trip
after every query; `core.db.keep_session` says why none is needed), yet nothing one user
of a connection leaves open reaches the next."""

from __future__ import annotations

import asyncio

import asyncpg
from tortoise.backends.base.config_generator import expand_db_url

from tests.conftest import PG_ADMIN_DSN
from tidings.core.db import keep_session, tortoise_config


def test_postgres_pools_keep_sessions_and_sqlite_keeps_its_url() -> None:
    pg = tortoise_config("postgres://someone:secret@db.example:5432/tidings?maxsize=20")
    connection = pg["connections"]["default"]
    assert connection["credentials"]["reset"] is keep_session
    expanded = expand_db_url("postgres://someone:secret@db.example:5432/tidings?maxsize=20")
    # Everything else as the URL said.
    assert {k: v for k, v in connection["credentials"].items() if k != "reset"} == (
        expanded["credentials"]
    )
    sqlite = tortoise_config("sqlite://tidings.sqlite3")
    assert sqlite["connections"]["default"] == "sqlite://tidings.sqlite3"


async def test_a_transaction_cut_short_is_rolled_back_before_the_connection_is_reused() -> None:
    # One connection: the cancelled task's is the one the next acquire gets.
    pool = await asyncpg.create_pool(PG_ADMIN_DSN, min_size=1, max_size=1, reset=keep_session)
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
