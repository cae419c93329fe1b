"""The triggers on `deliveries` that log every change to the stats' counts.

What a delivery counts toward is said once, in SQL, by `_counts` (core/stats/rows.py
`contribution` says the same in Python, for the reference scan). On PostgreSQL the triggers
are per statement, with transition tables: a COPY of 10,000 deliveries writes a handful of
delta rows, one per group it touched. SQLite has only row triggers: one delta row per row.

On SQLite the count an UPDATE reports includes the rows its triggers wrote (tortoise counts
the connection's total changes), so code must not count deliveries by what `.update()`
returns when it changes a WATCHED column: count the rows it selected instead.
"""

from __future__ import annotations

from tidings.core.stats.rows import COUNTS, QUARTER

KEY = ("bucket", "category", "channel", "tier", "reason", "message_id")
COLUMNS = (*KEY, *COUNTS, "revenue")
# The delivery columns a count depends on: an UPDATE changing none of them logs nothing.
# The reference scan (core/stats/scan.py) reads them, in this order.
WATCHED = (
    "message_id",
    "channel",
    "tier",
    "reason",
    "status",
    "created_at",
    "opened_at",
    "clicked_at",
    "converted_at",
    "revenue",
    "unsubscribed_at",
)
TRIGGERS = ("tidings_stats_insert", "tidings_stats_update", "tidings_stats_delete")


def _flag(condition: str) -> str:
    return f"(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _counts(d: str, bucket: str, revenue: str) -> list[str]:
    """The values of COLUMNS for delivery `d` (a row alias, or NEW/OLD) of message `m`."""
    engaged = f"({d}.opened_at IS NOT NULL OR {d}.clicked_at IS NOT NULL)"
    return [
        bucket,
        "m.category",
        f"{d}.channel",
        f"COALESCE({d}.tier, '')",
        f"COALESCE({d}.reason, '')",
        f"{d}.message_id",
        "1",
        _flag(f"{d}.status = 'SUPPRESSED'"),
        _flag(f"{d}.status = 'DEFERRED'"),
        _flag(f"{d}.status IN ('SENT', 'DELIVERED', 'BOUNCED', 'COMPLAINED')"),
        _flag(f"{d}.status IN ('DELIVERED', 'COMPLAINED') OR ({d}.status = 'SENT' AND {engaged})"),
        _flag(f"{d}.status = 'SENT' AND NOT {engaged}"),
        _flag(f"{d}.status = 'FAILED'"),
        _flag(f"{d}.status = 'BOUNCED'"),
        _flag(f"{d}.status = 'COMPLAINED'"),
        _flag(engaged),
        _flag(f"{d}.clicked_at IS NOT NULL"),
        _flag(f"{d}.converted_at IS NOT NULL"),
        _flag(f"{d}.unsubscribed_at IS NOT NULL"),
        revenue,
    ]


def _pg_select(table: str, sign: int) -> str:
    values = _counts(
        "d",
        f"(floor(extract(epoch FROM d.created_at) / {QUARTER}) * {QUARTER})::bigint",
        "(COALESCE(d.revenue, 0) * 10000)::bigint",
    )
    named = [f"{v} AS {c}" for v, c in zip(values[:6], KEY, strict=True)]
    named += [f"{sign} * {v} AS {c}" for v, c in zip(values[6:], COLUMNS[6:], strict=True)]
    return f"SELECT {', '.join(named)} FROM {table} d JOIN messages m ON m.id = d.message_id"


def _pg_insert(source: str) -> str:
    sums = ", ".join(f"sum({c})" for c in COLUMNS[6:])
    nonzero = " OR ".join(f"sum({c}) <> 0" for c in COLUMNS[6:])
    return (
        f"INSERT INTO stats_deltas ({', '.join(COLUMNS)}) "
        f"SELECT {', '.join(KEY)}, {sums} FROM ({source}) c "
        f"GROUP BY {', '.join(KEY)} HAVING {nonzero} ORDER BY {', '.join(KEY)};"
    )


def _pg_changed() -> str:
    """The updated rows whose counted columns changed, as `new_rows` and `old_rows`."""
    differs = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in WATCHED)
    return (
        f"changed AS (SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {differs})"
    )


def postgres_sql() -> list[str]:
    plus = _pg_select("new_rows", 1)
    minus = _pg_select("old_rows", -1)
    update = f"WITH {_pg_changed()} " + _pg_insert(
        f"{plus} WHERE d.id IN (SELECT id FROM changed) UNION ALL "
        f"{minus} WHERE d.id IN (SELECT id FROM changed)"
    )
    bodies = {
        "insert": ("INSERT", "NEW TABLE AS new_rows", _pg_insert(plus)),
        "update": ("UPDATE", "NEW TABLE AS new_rows OLD TABLE AS old_rows", update),
        "delete": ("DELETE", "OLD TABLE AS old_rows", _pg_insert(minus)),
    }
    sql = []
    for name, (event, tables, body) in bodies.items():
        sql.append(
            f"CREATE OR REPLACE FUNCTION tidings_stats_{name}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$;"
        )
        sql.append(f"DROP TRIGGER IF EXISTS tidings_stats_{name} ON deliveries;")
        sql.append(
            f"CREATE TRIGGER tidings_stats_{name} AFTER {event} ON deliveries "
            f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION tidings_stats_{name}();"
        )
    return sql


def _sqlite_insert(row: str, sign: int) -> str:
    values = _counts(
        row,
        f"(CAST(strftime('%s', {row}.created_at) AS INTEGER) / {QUARTER}) * {QUARTER}",
        f"CAST(ROUND(CAST(COALESCE({row}.revenue, 0) AS REAL) * 10000) AS INTEGER)",
    )
    signed = values[:6] + [f"{sign} * {v}" for v in values[6:]]
    return (
        f"INSERT INTO stats_deltas ({', '.join(COLUMNS)}) "
        f"SELECT {', '.join(signed)} FROM messages m WHERE m.id = {row}.message_id;"
    )


def sqlite_sql() -> list[str]:
    differs = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)
    return [
        "DROP TRIGGER IF EXISTS tidings_stats_insert;",
        "CREATE TRIGGER tidings_stats_insert AFTER INSERT ON deliveries BEGIN "
        f"{_sqlite_insert('NEW', 1)} END;",
        "DROP TRIGGER IF EXISTS tidings_stats_update;",
        f"CREATE TRIGGER tidings_stats_update AFTER UPDATE ON deliveries WHEN {differs} BEGIN "
        f"{_sqlite_insert('OLD', -1)} {_sqlite_insert('NEW', 1)} END;",
        "DROP TRIGGER IF EXISTS tidings_stats_delete;",
        "CREATE TRIGGER tidings_stats_delete AFTER DELETE ON deliveries BEGIN "
        f"{_sqlite_insert('OLD', -1)} END;",
    ]


def trigger_sql(dialect: str) -> list[str]:
    """The statements that (re)create the triggers on this dialect."""
    return postgres_sql() if dialect == "postgres" else sqlite_sql()


def contributions_sql(dialect: str) -> str:
    """Every delivery's contribution as a row shaped like stats_deltas: what a rebuild sums.
    Deliveries are `d`, so a caller may add `WHERE d....`."""
    if dialect == "postgres":
        return _pg_select("deliveries", 1)
    values = _counts(
        "d",
        f"(CAST(strftime('%s', d.created_at) AS INTEGER) / {QUARTER}) * {QUARTER}",
        "CAST(ROUND(CAST(COALESCE(d.revenue, 0) AS REAL) * 10000) AS INTEGER)",
    )
    named = ", ".join(f"{v} AS {c}" for v, c in zip(values, COLUMNS, strict=True))
    return f"SELECT {named} FROM deliveries d JOIN messages m ON m.id = d.message_id"
