"""`tidings stats rebuild`: every rollup computed again from the deliveries.

For when the rollups are in doubt (a restore of only some tables, a bug): the deltas and
rollups are emptied and refilled in one transaction, the deliveries read once, in chunks of
their (time-ordered) ids so progress can be shown. On PostgreSQL it is REPEATABLE READ: the
rebuild counts the deliveries as they stood when it began and deletes only the deltas visible
then, so the deltas of changes committed during the rebuild stay, to be folded afterwards.
Folds skip while the rebuild holds their lock. Sends go on meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable

from tortoise.transactions import in_transaction

from tidings.core.delivery.claims import is_postgres
from tidings.core.stats.fold import FOLD_LOCK, QUARTER_KEY, _upsert, level_upserts
from tidings.core.stats.triggers import contributions_sql

CHUNK = 200_000
TABLES = (
    "stats_deltas",
    "stats_quarters",
    "stats_hours",
    "stats_days",
    "stats_hours_lean",
    "stats_days_lean",
)


async def rebuild_stats(
    progress: Callable[[int, int], None] | None = None, chunk: int = CHUNK
) -> int:
    """Recompute the rollups. `progress(done, total)` is called after each chunk of
    deliveries. Returns how many deliveries were counted."""
    postgres = is_postgres()
    mark = "$1" if postgres else "?"
    select = contributions_sql("postgres" if postgres else "sqlite")
    async with in_transaction() as conn:
        if postgres:
            await conn.execute_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [FOLD_LOCK])
        for table in TABLES:
            await conn.execute_query(f"DELETE FROM {table}")
        _, rows = await conn.execute_query("SELECT count(*) FROM deliveries")
        total = int(rows[0][0])
        done = 0
        low = None
        while done < total:
            _, rows = await conn.execute_query(
                "SELECT id FROM deliveries"
                + ("" if low is None else f" WHERE id > {mark}")
                + f" ORDER BY id LIMIT 1 OFFSET {int(chunk) - 1}",
                [] if low is None else [low],
            )
            high = rows[0][0] if rows else None
            where = []
            values = []
            if low is not None:
                where.append(f"d.id > {mark}")
                values.append(low)
            if high is not None:
                where.append(f"d.id <= {'$2' if postgres and low is not None else mark}")
                values.append(high)
            condition = f" WHERE {' AND '.join(where)}" if where else ""
            source = f"({select}{condition})"
            _, rows = await conn.execute_query(
                f"SELECT count(*) FROM deliveries d{condition}", values
            )
            done += int(rows[0][0])
            await conn.execute_query(_upsert("stats_quarters", QUARTER_KEY, source, None), values)
            if progress is not None:
                progress(min(done, total), total)
            if high is None:
                break
            low = high
        # What retention pruned (core/services/retention.py): gone, still counted.
        await conn.execute_query(_upsert("stats_quarters", QUARTER_KEY, "stats_pruned", None))
        for sql in level_upserts("stats_quarters"):
            await conn.execute_query(sql)
        return done
