"""Migration 0013 on a database written before encryption: the plain values already there
are encrypted, bound to their rows, their blind indexes filled, and they read back as before;
afterwards no plain value is left in the columns."""

from __future__ import annotations

import sys
import textwrap

from tests.conftest import run_process

# In a process of its own: migrating a scratch database must not touch the session's ORM.
UPGRADE = textwrap.dedent(
    """
    import asyncio, json, sys
    from tortoise import connections
    from tortoise.migrations.executor import MigrationTarget
    from tests.conftest import KEYRING
    from tidings.core import db
    from tidings.core.models import Customer, Device, PermissionEntry

    C = "00000000-0000-0000-0000-00000000000c"
    D = "00000000-0000-0000-0000-00000000000d"
    E = "00000000-0000-0000-0000-00000000000e"

    async def main(url):
        await db.init_db(url, create_db=url.startswith("sqlite"), keyring=KEYRING)
        await db._executor(url).migrate([MigrationTarget("models", "0014_data_rights")])
        conn = connections.get("default")
        attributes = "'{\\"line\\":\\"u-ann@example.com\\"}'"
        evidence = "'{\\"typed\\":\\"u-ann@example.com\\"}'"
        await conn.execute_query(
            "INSERT INTO customers (id, external_id, name, email, phone, locale, timezone, tier,"
            " attributes, token_version, created_at, updated_at) VALUES"
            f" ('{C}', 'old-1', 'Ann Old', 'u-ann@example.com', '+15550109999', 'en', 'UTC',"
            f" 'ORDINARY', {attributes}, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
        await conn.execute_query(
            "INSERT INTO customers (id, external_id, locale, timezone, tier,"
            " attributes, token_version, created_at, updated_at) VALUES"
            " ('00000000-0000-0000-0000-0000000000c2', 'old-2', 'en', 'UTC', 'ORDINARY',"
            " '{}', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
        await conn.execute_query(
            "INSERT INTO devices (id, customer_id, platform, token, token_hash, created_at)"
            f" VALUES ('{D}', '{C}', 'IOS', 'old-device-token-0123456789', 'h', CURRENT_TIMESTAMP)"
        )
        await conn.execute_query(
            "INSERT INTO permission_entries (id, customer_id, channel, category, status, source,"
            " evidence, recorded_by, recorded_at) VALUES"
            f" ('{E}', '{C}', 'email', 'news', 'GRANTED', 'import', {evidence}, 'system',"
            " CURRENT_TIMESTAMP)"
        )
        assert await db.pending_migrations(url) == ["models.0015_encryption"]
        await db.migrate(url)
        _, rows = await conn.execute_query(
            "SELECT c.name, c.email, c.phone, c.attributes, d.token, e.evidence FROM customers c"
            " JOIN devices d ON d.customer_id = c.id JOIN permission_entries e"
            " ON e.customer_id = c.id"
        )
        raw = json.dumps([str(v) for v in dict(rows[0]).values()])
        customer = await Customer.get(id=C)
        found = await Customer.filter(email_index=" U-Ann@Example.com").values_list(
            "external_id", flat=True)
        print(json.dumps({
            "plain_left": [w for w in ("ann", "5550109999", "old-device", "Ann") if w in raw],
            "customer": [customer.name, customer.email, customer.phone, customer.attributes],
            "empty": (await Customer.get(external_id="old-2")).attributes,
            "address_keys": [c.address_keys for c in await Customer.all().order_by("external_id")],
            "token": (await Device.get(id=D)).token,
            "token_hash_keyed": (await Device.get(id=D)).token_hash
            == KEYRING.blind_index("device_token", "old-device-token-0123456789"),
            "evidence": (await PermissionEntry.get(id=E)).evidence,
            "by_email": found,
            "by_phone": await Customer.filter(phone_index="+15550109999").count(),
            "words": (await Customer.get(id=C)).name_words == KEYRING.name_words("Ann Old"),
            "by_name": await Customer.filter(name_index="ann old").count(),
        }))
        await db.close_db()

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_plain_rows_are_encrypted_by_the_migration(scratch):
    import json

    code, out, err = await run_process(sys.executable, "-c", UPGRADE, scratch)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == {
        "plain_left": [],
        "customer": ["Ann Old", "u-ann@example.com", "+15550109999", {"line": "u-ann@example.com"}],
        "empty": {},
        "address_keys": [["line"], None],
        "token": "old-device-token-0123456789",
        "token_hash_keyed": True,
        "evidence": {"typed": "u-ann@example.com"},
        "by_email": ["old-1"],
        "by_phone": 1,
        "by_name": 1,
        "words": True,
    }
