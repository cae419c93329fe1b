"""Moving logged deltas into the rollups, and rebuilding the rollups from the deliveries.

One folder at a time (a PostgreSQL advisory lock; SQLite has one writer anyway): the upserts
of two folders could otherwise wait on each other's rollup rows. A fold that finds the lock
taken returns at once; the next round folds what it left.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from tidings.core.delivery.claims import is_postgres
from tidings.core.stats.triggers import COLUMNS, KEY

COUNTED = COLUMNS[len(KEY) :]
# (table, width, lean): a lean level keeps tier and reason as "" (core/models/stats.py).
LEVELS = (
    ("stats_days", 86400, False),
    ("stats_hours", 3600, False),
    ("stats_days_lean", 86400, True),
    ("stats_hours_lean", 3600, True),
)
ROLLUP_KEY = ("bucket", "category", "channel", "tier", "reason")
QUARTER_KEY = ("bucket", "message_id", "category", "channel", "tier", "reason")
FOLD_LOCK = 7_301_300  # pg_advisory_xact_lock key: "tidings stats fold"
FOLD_BATCH = 50_000


def _upsert(
    table: str, key: tuple[str, ...], source: str, width: int | None, lean: bool = False
) -> str:
    """Add `source`'s rows (with the delta columns) into `table`, re-bucketed to `width`;
    `lean`: with tier and reason left out."""
    bucket = "bucket" if width is None else f"bucket - bucket % {width}"
    picked = []
    for k in key:
        if k == "bucket":
            picked.append(bucket)
        elif lean and k in ("tier", "reason"):
            picked.append("''")
        else:
            picked.append(k)
    grouped = ", ".join(p for p in picked if p != "''")
    sums = ", ".join(f"sum({c})" for c in COUNTED)
    adds = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in COUNTED)
    return (
        f"INSERT INTO {table} ({', '.join(key)}, {', '.join(COUNTED)}) "
        f"SELECT {', '.join(picked)}, {sums} FROM {source} src WHERE true "
        f"GROUP BY {grouped} ORDER BY {grouped} "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {adds}"
    )


def level_upserts(source: str) -> list[str]:
    """The statements adding `source` to the day and hour levels, full and lean."""
    return [_upsert(t, ROLLUP_KEY, source, width, lean) for t, width, lean in LEVELS]


def upserts(source: str) -> list[str]:
    """The statements adding `source` (rows shaped like stats_deltas) to every rollup."""
    return [_upsert("stats_quarters", QUARTER_KEY, source, None), *level_upserts(source)]


def _postgres_fold(limit: int) -> str:
    """One statement: what it deletes is exactly what it adds, whatever commits meanwhile."""
    moved = (
        "moved AS (DELETE FROM stats_deltas WHERE id IN "
        f"(SELECT id FROM stats_deltas ORDER BY id LIMIT {int(limit)}) "
        f"RETURNING {', '.join(COLUMNS)})"
    )
    parts = [f"u{i} AS ({sql} RETURNING 1)" for i, sql in enumerate(upserts("moved"))]
    return f"WITH {moved}, {', '.join(parts)} SELECT count(*) FROM moved"


async def fold_deltas(limit: int = FOLD_BATCH) -> int:
    """Fold up to `limit` of the oldest deltas into the rollups. Returns how many."""
    if is_postgres():
        async with in_transaction() as conn:
            _, rows = await conn.execute_query("SELECT pg_try_advisory_xact_lock($1)", [FOLD_LOCK])
            if not rows[0][0]:
                return 0
            _, rows = await conn.execute_query(_postgres_fold(limit))
            return int(rows[0][0])
    async with in_transaction() as conn:
        _, rows = await conn.execute_query(
            f"SELECT max(id), count(*) FROM (SELECT id FROM stats_deltas ORDER BY id "
            f"LIMIT {int(limit)})"
        )
        last, count = rows[0][0], rows[0][1]
        if not count:
            return 0
        source = f"(SELECT * FROM stats_deltas WHERE id <= {int(last)})"
        for sql in upserts(source):
            await conn.execute_query(sql)
        await conn.execute_query(f"DELETE FROM stats_deltas WHERE id <= {int(last)}")
        return int(count)


async def fold_all() -> int:
    """Fold until no delta is left (or another folder holds the lock). Returns how many."""
    total = 0
    while folded := await fold_deltas():
        total += folded
    return total
