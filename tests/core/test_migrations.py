"""The models and the migrations agree: nothing left to `makemigrations`, and on each database
the migrated tables have exactly the models' columns, unique constraints and indexes."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from typing import Any

from tortoise import Tortoise, connections
from tortoise.indexes import Index

from tidings.core import db as core_db

# Run in a process of its own: the autodetector initialises tortoise, which must not touch
# the session's open database.
AUTODETECT = textwrap.dedent(
    """
    import asyncio
    from tortoise.cli.cli import tortoise_cli_context
    from tortoise.migrations.autodetector import MigrationAutodetector
    from tidings.core.db import tortoise_config

    async def main():
        config = tortoise_config("sqlite://:memory:")
        async with tortoise_cli_context(config) as ctx:
            writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
            print("models:", len(ctx.apps["models"]))
            for writer in writers:
                for operation in writer.operations:
                    print("pending:", writer.app_label, type(operation).__name__,
                          getattr(operation, "name", ""), getattr(operation, "model_name", ""))

    asyncio.run(main())
    """
)


def test_makemigrations_finds_nothing_to_do():
    done = subprocess.run(
        [sys.executable, "-c", AUTODETECT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "models: " in done.stdout and "models: 0" not in done.stdout, done.stdout
    pending = [line for line in done.stdout.splitlines() if line.startswith("pending:")]
    assert not pending, (
        "the models have changes no migration records; run `tortoise makemigrations` "
        "(pyproject's [tool.tortoise]) and read its SQL on both databases:\n" + "\n".join(pending)
    )


# What the models declare --------------------------------------------------------------------


def models() -> list[Any]:
    apps = Tortoise.apps
    assert apps is not None
    found = list(apps["models"].values())
    assert len(found) >= 9
    return found


def column(model: Any, field_name: str) -> str:
    """The column a field name (or a foreign key's name) maps to."""
    meta = model._meta
    if field_name in meta.fields_db_projection:
        return meta.fields_db_projection[field_name]
    source = getattr(meta.fields_map[field_name], "source_field", None)
    assert source, f"{model.__name__}.{field_name} has no column"
    return meta.fields_db_projection[source]


def declared(model: Any) -> tuple[set[tuple[str, ...]], set[tuple[str, ...]]]:
    """(unique column groups, indexed column groups) the model declares."""
    meta = model._meta
    unique: set[tuple[str, ...]] = set()
    indexed: set[tuple[str, ...]] = set()
    for name in meta.fields_db_projection:
        field = meta.fields_map[name]
        if field.pk or field.unique:
            unique.add((column(model, name),))
        elif getattr(field, "index", False):
            indexed.add((column(model, name),))
    for group in meta.unique_together or ():
        unique.add(tuple(column(model, name) for name in group))
    for index in meta.indexes or ():
        names = index.fields if isinstance(index, Index) else index
        indexed.add(tuple(column(model, name) for name in names))
    return unique, indexed


# What the database has ----------------------------------------------------------------------


async def table_columns(url: str, table: str) -> set[str]:
    conn = connections.get("default")
    if url.startswith("sqlite"):
        rows = await conn.execute_query_dict(f'PRAGMA table_info("{table}")')
        return {row["name"] for row in rows}
    rows = await conn.execute_query_dict(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = $1",
        [table],
    )
    return {row["column_name"] for row in rows}


async def table_indexes(url: str, table: str) -> list[tuple[tuple[str, ...], bool]]:
    """Every index (including those behind UNIQUE and PRIMARY KEY): (columns, unique)."""
    conn = connections.get("default")
    found = []
    if url.startswith("sqlite"):
        for index in await conn.execute_query_dict(f'PRAGMA index_list("{table}")'):
            info = await conn.execute_query_dict(f'PRAGMA index_info("{index["name"]}")')
            columns = tuple(row["name"] for row in sorted(info, key=lambda r: r["seqno"]))
            found.append((columns, bool(index["unique"])))
        # An INTEGER PRIMARY KEY is the rowid itself: unique, with no index of its own.
        for column in await conn.execute_query_dict(f'PRAGMA table_info("{table}")'):
            if column["pk"] == 1 and str(column["type"]).upper() == "INTEGER":
                found.append(((column["name"],), True))
        return found
    rows = await conn.execute_query_dict(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1",
        [table],
    )
    for row in rows:
        definition = row["indexdef"]
        inside = re.search(r"\(([^()]*)\)\s*$", definition)
        assert inside, definition
        columns = tuple(part.strip().strip('"') for part in inside.group(1).split(","))
        found.append((columns, definition.startswith("CREATE UNIQUE INDEX")))
    return found


async def test_tables_have_exactly_the_models_columns(database_url):
    problems = []
    for model in models():
        table = model._meta.db_table
        expected = set(model._meta.fields_db_projection.values())
        actual = await table_columns(database_url, table)
        if actual != expected:
            problems.append(
                f"{table}: missing {sorted(expected - actual)}, extra {sorted(actual - expected)}"
            )
    assert not problems, "\n".join(problems)


async def test_declared_unique_constraints_and_indexes_exist(database_url):
    problems = []
    checked = 0
    for model in models():
        table = model._meta.db_table
        unique, indexed = declared(model)
        indexes = await table_indexes(database_url, table)
        for group in unique:
            checked += 1
            if (group, True) not in indexes:
                problems.append(f"{table}: no unique index on {group}")
        for group in indexed:
            checked += 1
            # A unique index serves as well; the leading columns must match exactly.
            if not any(columns == group for columns, _ in indexes):
                problems.append(f"{table}: no index on {group}")
    assert checked > 20
    assert not problems, "\n".join(problems)


async def test_the_check_sees_real_indexes(database_url):
    """Spot checks that the introspection reads what the first migration created."""
    indexes = await table_indexes(database_url, "permission_states")
    assert (("customer_id", "channel", "category"), True) in indexes
    assert (("id",), True) in indexes
    customers = await table_indexes(database_url, "customers")
    assert (("external_id",), True) in customers
    # The blind index, not the (encrypted) email, is what lookups use.
    assert any(columns == ("email_index",) and not unique for columns, unique in customers)
    assert not any(columns == ("email",) for columns, _ in customers)


async def test_migrate_again_applies_nothing(database_url):
    assert await core_db.pending_migrations(database_url) == []
    assert await core_db.migrate(database_url) == []
    await core_db.ensure_schema_current(database_url)
