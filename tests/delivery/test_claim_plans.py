"""PostgreSQL only: the claim takes at most its limit whatever plan the server picks.

asyncpg prepares statements and PostgreSQL switches a prepared statement to a generic plan
after five runs. A generic plan once ran the `LIMIT ... FOR UPDATE SKIP LOCKED` subquery of
an `UPDATE ... WHERE id IN (...)` once per outer row, claiming the whole queue in one batch.
The test forces the generic plan so the shape of the SQL, not the planner's mood, decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from tests.delivery.test_workers_pg import fill_outbox, pg_database  # noqa: F401
from tidings.core.delivery import claims


async def claim_with(conn: asyncpg.Connection, sql: str, limit: int) -> list:
    now = datetime.now(UTC)
    return await conn.fetch(sql, now + timedelta(minutes=2), now, limit)


async def test_a_claim_never_takes_more_than_its_limit_under_a_generic_plan(pg_database):  # noqa: F811
    await fill_outbox(pg_database, 2000)
    conn = await asyncpg.connect(pg_database)
    try:
        # As in a fresh database: no statistics yet, the queue filled all at once.
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        first = await claim_with(conn, claims._PG, 100)
        second = await claim_with(conn, claims._PG, 100)
        assert len(first) == len(second) == 100
        assert not {r["id"] for r in first} & {r["id"] for r in second}
        leased = await conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE locked_until IS NOT NULL"
        )
        assert leased == 200
    finally:
        await conn.close()
