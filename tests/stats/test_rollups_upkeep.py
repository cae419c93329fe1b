"""Keeping the rollups: the upgrade to 0011 counts the deliveries already there, `tidings
stats rebuild` recounts with progress, concurrent folds fold each delta once, a query is one
statement, and what the rollups cannot answer exactly is refused with a clear error."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from tortoise import connections

from tests.conftest import run_process as run
from tests.sql_statements import statement_log
from tidings.core.enums import DeliveryStatus, StatsDimension, Tier
from tidings.core.errors import UserInputError
from tidings.core.models import Customer, Delivery, Message, StatsDelta
from tidings.core.stats.fold import FOLD_LOCK, fold_all, fold_deltas
from tidings.core.stats.query import delivery_stats
from tidings.core.stats.rows import DeliveryStatsQuery
from tidings.core.stats.scan import scan_delivery_stats

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
WIDE = DeliveryStatsQuery(
    start=datetime(2026, 1, 1, tzinfo=UTC),
    end=datetime(2027, 1, 1, tzinfo=UTC),
    group_by=(StatsDimension.TIER, StatsDimension.DAY),
)


def receipts(channel: str) -> bool:
    return False


async def history(count: int = 6) -> None:
    person = await Customer.create(external_id="c", tier=Tier.POTENTIAL)
    message = await Message.create(
        category="offers", status="EXPANDED", idempotency_scope="t", idempotency_key="k",
        request_hash="-", audience={}, created_by="t",
    )  # fmt: skip
    await Delivery.bulk_create(
        [
            Delivery(message_id=message.id, customer_id=person.id, channel="email",
                     status=DeliveryStatus.SENT, tier="POTENTIAL")
            for _ in range(count)
        ]
    )  # fmt: skip
    for n, row in enumerate(await Delivery.all().order_by("id")):
        await Delivery.filter(id=row.id).update(created_at=NOW - timedelta(hours=7 * n))


# In processes of their own: migrating a scratch database must not touch the session's ORM.
SEED = textwrap.dedent(
    """
    import asyncio, sys
    from tortoise import connections
    from tortoise.migrations.executor import MigrationTarget
    from tests.conftest import KEYRING
    from tidings.core import db

    ROWS = [
        "INSERT INTO customers (id, external_id, locale, timezone, tier, attributes,"
        " token_version, created_at, updated_at) VALUES ('00000000-0000-0000-0000-000000000001',"
        " 'c1', 'en', 'UTC', 'HIGH_VALUE', '{}', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        "INSERT INTO messages (id, category, kind, status, idempotency_scope, idempotency_key,"
        " request_hash, audience, created_by, created_at) VALUES"
        " ('00000000-0000-0000-0000-0000000000aa', 'offers', 'send', 'EXPANDED', 's', 'k',"
        " '-', '{}', 't', CURRENT_TIMESTAMP)",
    ] + [
        "INSERT INTO deliveries (id, message_id, customer_id, channel, status, rules,"
        " attempts, created_at, updated_at) VALUES"
        f" ('00000000-0000-0000-0000-00000000010{n}',"
        " '00000000-0000-0000-0000-0000000000aa', '00000000-0000-0000-0000-000000000001',"
        f" 'email', '{status}', '[]', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        for n, status in enumerate(("SENT", "SENT", "BOUNCED", "SUPPRESSED"))
    ]

    async def main(url, upgrade):
        # The keyring: migration 0013 encrypts the customer row the seed wrote before it.
        await db.init_db(url, create_db=url.startswith("sqlite"), keyring=KEYRING)
        try:
            conn = connections.get("default")
            if upgrade:
                target = MigrationTarget("models", "0010_events_webhooks")
                await db._executor(url).migrate([target])
            for sql in ROWS:
                await conn.execute_query(sql)
            if upgrade:
                await db.migrate(url)
                _, tiers = await conn.execute_query("SELECT DISTINCT tier FROM deliveries")
                _, days = await conn.execute_query(
                    "SELECT sum(attempted), sum(sent), sum(bounced), sum(suppressed)"
                    " FROM stats_days"
                )
                print([row[0] for row in tiers], [int(v) for v in days[0]])
        finally:
            await db.close_db()

    asyncio.run(main(sys.argv[1], sys.argv[2] == "upgrade"))
    """
)


async def test_the_upgrade_counts_the_deliveries_already_there(scratch):
    code, out, err = await run(sys.executable, "-c", SEED, scratch, "upgrade")
    assert code == 0, err
    # Each delivery takes its customer's tier; the rollups hold them all.
    assert out.strip() == "['HIGH_VALUE'] [4, 3, 1, 1]"


async def test_tidings_stats_rebuild_recounts_with_progress(scratch):
    env = {"TIDINGS_DATABASE_URL": scratch, "TIDINGS_SECRET_KEY": "x" * 40}
    tidings = os.path.join(os.path.dirname(sys.executable), "tidings")
    code, _, err = await run(tidings, "migrate", env=env)
    assert code == 0, err
    code, _, err = await run(sys.executable, "-c", SEED, scratch, "seed")
    assert code == 0, err
    code, out, err = await run(tidings, "stats", "rebuild", env=env)
    assert code == 0, err
    assert out.strip() == "rebuilt the stats from 4 deliveries"
    assert "100.0%" in err and "4 / 4 deliveries" in err  # the bar, a line at a time


async def test_concurrent_folds_fold_each_delta_once(db):
    await history(40)
    expected = await scan_delivery_stats(WIDE, receipts)
    logged = await StatsDelta.all().count()
    folded = await asyncio.gather(*(fold_deltas(limit=7) for _ in range(4)))
    assert all(n <= 7 for n in folded)
    assert sum(folded) + await fold_all() == logged
    assert await StatsDelta.all().count() == 0
    assert await delivery_stats(WIDE, receipts) == expected
    if db.startswith("postgres"):
        await history_more()
        # While another folder (here: a rebuild) holds the lock, a fold returns at once.
        other = await asyncpg.connect(db)  # another session, as a rebuild would be
        try:
            async with other.transaction():
                await other.execute("SELECT pg_advisory_xact_lock($1)", FOLD_LOCK)
                assert await asyncio.wait_for(fold_deltas(), 10) == 0
        finally:
            await other.close()
        assert await fold_deltas() > 0


async def history_more() -> None:
    person = await Customer.first()
    message = await Message.first()
    await Delivery.create(
        message_id=message.id, customer_id=person.id, channel="sms", status=DeliveryStatus.QUEUED
    )


async def test_a_query_is_one_statement(db):
    await history()
    with statement_log() as statements:
        rows = await delivery_stats(WIDE, receipts)
    assert len(statements.statements) == 1
    assert sum(r.attempted for r in rows) == 6


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"start": datetime(2026, 1, 1, 0, 7, tzinfo=UTC)}, "NOT_ON_QUARTER_HOUR", "from"),
        ({"end": datetime(2026, 2, 1, 0, 0, 1, tzinfo=UTC)}, "NOT_ON_QUARTER_HOUR", "to"),
        ({"start": datetime(2026, 1, 1)}, "NAIVE_DATETIME", "from"),
        ({"end": datetime(2025, 1, 1, tzinfo=UTC)}, "EMPTY_PERIOD", "to"),
        ({"end": datetime(2027, 3, 1, tzinfo=UTC)}, "PERIOD_TOO_LONG", "to"),
        ({"timezone": "Mars/Olympus"}, "UNKNOWN_TIMEZONE", "timezone"),
        ({"timezone": "../../etc/passwd"}, "UNKNOWN_TIMEZONE", "timezone"),
        ({"group_by": (StatsDimension.DAY, StatsDimension.DAY)}, "DUPLICATE_DIMENSION", "groupBy"),
    ],
)
async def test_what_the_rollups_cannot_answer_is_refused(db, change, code, field):
    query = DeliveryStatsQuery(**{**vars(WIDE), **change})
    with pytest.raises(UserInputError) as refused:
        await delivery_stats(query, receipts)
    assert (refused.value.code, refused.value.field) == (code, field)


async def test_an_odd_time_zone_counts_its_own_days(db):
    await history()
    for zone in ("Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham"):
        query = DeliveryStatsQuery(**{**vars(WIDE), "timezone": zone})
        assert await delivery_stats(query, receipts) == await scan_delivery_stats(query, receipts)
    await fold_all()
    query = DeliveryStatsQuery(**{**vars(WIDE), "timezone": "Asia/Kathmandu"})
    rows = await delivery_stats(query, receipts)
    assert rows == await scan_delivery_stats(query, receipts)
    assert len(rows) == 2 and sum(r.attempted for r in rows) == 6


async def test_a_missing_tier_is_read_once_for_the_batch(db):
    from tidings.core.delivery.bulk import RulesJson, write_decided
    from tidings.core.policy import Decision

    people = [await Customer.create(external_id=f"p{i}", tier=Tier.HIGH_VALUE) for i in range(3)]
    message = await Message.create(
        category="offers", status="EXPANDED", idempotency_scope="t", idempotency_key="m",
        request_hash="-", audience={}, created_by="t",
    )  # fmt: skip
    decided = [(p.id, Decision("email", DeliveryStatus.QUEUED, None, None, ())) for p in people]
    with statement_log() as statements:
        await write_decided(message.id, decided, RulesJson(), {people[0].id: "ORDINARY"})
    reads = [s for s in statements.statements if "customers" in s.lower()]
    assert len(reads) == 1
    tiers = dict(await Delivery.all().values_list("customer_id", "tier"))
    assert tiers == {
        people[0].id: "ORDINARY",
        people[1].id: "HIGH_VALUE",
        people[2].id: "HIGH_VALUE",
    }
    assert uuid.UUID(str(message.id))
    assert connections.get("default") is not None


async def test_a_customer_erased_leaves_the_stats_with_their_deliveries(db):
    await history()
    other = await Customer.create(external_id="d", tier=Tier.ORDINARY)
    message = await Message.first()
    await Delivery.create(
        message_id=message.id, customer_id=other.id, channel="sms", status=DeliveryStatus.SENT,
        tier="ORDINARY",
    )  # fmt: skip
    await fold_all()
    await other.delete()  # the deliveries go by ON DELETE CASCADE, through the triggers
    rows = await delivery_stats(WIDE, receipts)
    assert rows == await scan_delivery_stats(WIDE, receipts)
    assert {r.tier for r in rows} == {Tier.POTENTIAL}


async def test_an_answer_too_large_to_hold_is_refused_before_it_is_read(db, monkeypatch):
    from tidings.core.stats import query as module

    await history()  # six deliveries over three days, one tier
    days = len(await scan_delivery_stats(WIDE, receipts))
    assert days == 3
    monkeypatch.setattr(module, "MAX_SOURCE_ROWS", days - 1)
    with pytest.raises(UserInputError) as refused:
        await delivery_stats(WIDE, receipts)
    assert refused.value.code == "TOO_MANY_ROWS"
    monkeypatch.setattr(module, "MAX_SOURCE_ROWS", days)
    assert len(await delivery_stats(WIDE, receipts)) == days
