"""Migration 0009 on a database with categories already in it: MARKETING ones track
engagement afterwards, TRANSACTIONAL ones do not, as if each had been created with the
kind's default."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from asyncio.subprocess import PIPE

import pytest

from tests.conftest import create_pg_database, drop_pg_database, pg_url

# In a process of its own: migrating a scratch database must not touch the session's ORM.
UPGRADE = textwrap.dedent(
    """
    import asyncio, sys
    from tortoise import connections
    from tortoise.migrations.executor import MigrationTarget
    from tidings.core import db

    async def main(url):
        await db.init_db(url, create_db=url.startswith("sqlite"))
        await db._executor(url).migrate([MigrationTarget("models", "0006_delivery_bounces")])
        conn = connections.get("default")
        for n, (key, kind) in enumerate((("promos", "MARKETING"), ("receipts", "TRANSACTIONAL"))):
            await conn.execute_query(
                "INSERT INTO categories (id, key, name, kind, default_channels,"
                " respect_quiet_hours, required, confirm_email, created_at, updated_at)"
                f" VALUES ('00000000-0000-0000-0000-00000000000{n}', '{key}', '{key}',"
                f" '{kind}', '[]', FALSE, FALSE, FALSE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        assert "models.0009_tracking" in await db.pending_migrations(url)
        await db.migrate(url)
        _, rows = await conn.execute_query(
            "SELECT key, track_engagement FROM categories ORDER BY key"
        )
        print(sorted((row["key"], bool(row["track_engagement"])) for row in rows))
        await db.close_db()

    asyncio.run(main(sys.argv[1]))
    """
)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_existing_categories_get_their_kinds_default(kind, tmp_path):
    if kind == "sqlite":
        url, name = f"sqlite://{tmp_path / 'upgrade.sqlite3'}", None
    else:
        name = await create_pg_database()
        url = pg_url(name)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", UPGRADE, url, stdout=PIPE, stderr=PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), 120)
    finally:
        if name:
            await drop_pg_database(name)
    assert process.returncode == 0, err.decode()
    assert out.decode().strip() == "[('promos', True), ('receipts', False)]"
