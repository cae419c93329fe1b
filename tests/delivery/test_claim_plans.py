"""PostgreSQL only: a claim's cost does not depend on the plan PostgreSQL cached for it.

asyncpg prepares statements, and PostgreSQL fixes a prepared statement's generic plan after
five runs, typically while the queue is still empty. Planned for an empty table, a claim
written as a join scanned the whole table once per claimed row (4.9 s for 1,000 rows of
30,000); written as `IN (subquery)` it could run the `LIMIT` subquery per row and claim past
its limit. Here the statement is primed on an empty queue, the queue is filled, and the plan
of the next claim must read the table a bounded number of times and take exactly its limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.delivery.test_workers_pg import fill_outbox, pg_database  # noqa: F401
from tidings.core.delivery import claims


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


@pytest.mark.parametrize(
    "sql", [claims._PG, claims._PG_ROWS, claims._PG_DIGESTS], ids=["due", "rows", "digests"]
)
async def test_a_claim_primed_on_an_empty_queue_stays_bounded(pg_database, sql):  # noqa: F811
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.execute("ANALYZE deliveries")  # statistics of an empty table
        statement = await conn.prepare(sql)
        now = datetime.now(UTC)
        for _ in range(8):  # past the point where PostgreSQL settles on a generic plan
            await statement.fetch(now + timedelta(minutes=2), now, 1000)
        await fill_outbox(pg_database, 5000)
        if sql is claims._PG_DIGESTS:
            await conn.execute(
                "UPDATE deliveries SET status = 'DEFERRED', reason = 'DIGEST', not_before = $1",
                now - timedelta(minutes=1),
            )
        explain = await conn.prepare("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        async with conn.transaction():
            await conn.execute(claims.CLAIM_SESSION)
            now = datetime.now(UTC)
            (row,) = await explain.fetch(now + timedelta(minutes=2), now, 1000)
        plan = json.loads(row[0])[0]["Plan"]
        assert plan["Actual Rows"] == 1000
        repeated = [
            n["Node Type"]
            for n in nodes(plan)
            if n.get("Relation Name") == "deliveries" and n["Actual Loops"] > 1
        ]
        assert repeated == [], json.dumps(plan, indent=1)
    finally:
        await conn.close()
