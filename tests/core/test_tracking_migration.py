"""Migration 0009 on a database with categories already in it: MARKETING ones track
engagement afterwards, TRANSACTIONAL ones do not, as if each had been created with the
kind's default."""

from __future__ import annotations

import sys
import textwrap

from tests.conftest import run_process

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


async def test_existing_categories_get_their_kinds_default(scratch):
    code, out, err = await run_process(sys.executable, "-c", UPGRADE, scratch)
    assert code == 0, err
    assert out.strip() == "[('promos', True), ('receipts', False)]"
