"""A scratch PostgreSQL database, migrated by Tidings itself and loaded fast through COPY."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from bench import sealed
from bench.fanout_data import (
    CATEGORY_COLUMNS,
    CUSTOMER_COLUMNS,
    ENTRY_COLUMNS,
    PREFERENCE_COLUMNS,
    STATE_COLUMNS,
)
from tidings.core import db
from tidings.core.ids import new_id

ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
SERVER_URL = "postgres://postgres@127.0.0.1:5432"

LOCALES = ("en", "zh-CN", "fr-FR", "de-DE", "ja-JP")
TIMEZONES = ("UTC", "Asia/Shanghai", "Europe/Paris", "America/New_York", "Asia/Tokyo")
TIERS = ("ORDINARY", "ORDINARY", "POTENTIAL", "HIGH_VALUE")
CHANNELS = ("email", "sms")
CATEGORY = "marketing"


@dataclass(frozen=True)
class Dataset:
    url: str
    admin_staff_id: uuid.UUID
    customers: int


async def create_database() -> str:
    """A new, empty database with a random name; returns its URL."""
    name = f"tidings_bench_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{SERVER_URL}/{name}"


async def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def migrate(url: str) -> None:
    """Tidings' own migrations; the ORM stays open for the in-process benchmarks."""
    await db.init_db(url, keyring=sealed.KEYRING)
    await db.migrate(url)


async def load(url: str, customers: int) -> Dataset:
    """`customers` customers, each with 2 grants (state + ledger entry) and 1 preference,
    plus one ADMIN staff. Ids are UUIDv7 from `new_id`, so creation order is id order."""
    now = datetime.now(UTC)
    staff_id = new_id()
    customer_rows = []
    entry_rows = []
    state_rows = []
    preference_rows = []
    for n in range(customers):
        cid = new_id()
        created = now - timedelta(seconds=customers - n)
        customer_rows.append(
            (
                cid,
                f"bench-{n:06d}",
                f"Customer {n}",
                f"customer{n}@example.com",
                f"+1555{n:07d}" if n % 2 else None,
                LOCALES[n % len(LOCALES)],
                TIMEZONES[n % len(TIMEZONES)],
                TIERS[n % len(TIERS)],
                "{}",
                0,
                created,
                created,
            )
        )
    for n, row in enumerate(customer_rows):
        cid, created = row[0], row[10]
        for k, channel in enumerate(CHANNELS):
            status = "WITHDRAWN" if (n + k) % 7 == 0 else "GRANTED"
            granted_at = created
            withdrawn_at = created + timedelta(minutes=5) if status == "WITHDRAWN" else None
            # Some grants expire: a few already have (they read as EXPIRED), some later.
            expires_at = None
            if status == "GRANTED" and n % 5 == 0:
                expires_at = now + timedelta(days=30) if k else now - timedelta(days=1)
            entry_id = new_id()
            entry_rows.append(
                (
                    entry_id,
                    cid,
                    channel,
                    CATEGORY,
                    status,
                    "import",
                    json.dumps({"form": "signup", "ip": "192.0.2.1"}),
                    granted_at,
                    withdrawn_at,
                    expires_at,
                    f"staff:{staff_id}",
                    created,
                )
            )
            state_rows.append(
                (
                    new_id(),
                    cid,
                    channel,
                    CATEGORY,
                    status,
                    "import",
                    granted_at,
                    withdrawn_at,
                    expires_at,
                    entry_id,
                    created,
                )
            )
        quiet = n % 3 == 0
        preference_rows.append(
            (
                new_id(),
                cid,
                CATEGORY,
                json.dumps(list(CHANNELS) if n % 2 else ["email"]),
                ("REALTIME", "DAILY_DIGEST", "WEEKLY_DIGEST")[n % 3],
                "22:00" if quiet else None,
                "08:00" if quiet else None,
                created,
            )
        )

    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "staff",
                records=[
                    (staff_id, "bench-admin@example.com", "!unusable", "ADMIN", True, 0, now, None)
                ],
                columns=[
                    "id",
                    "email",
                    "password_hash",
                    "role",
                    "active",
                    "token_version",
                    "created_at",
                    "last_login_at",
                ],
            )
            await conn.copy_records_to_table(
                "categories",
                records=[
                    (
                        new_id(),
                        CATEGORY,
                        "Marketing",
                        None,
                        "MARKETING",
                        '["email"]',
                        True,
                        False,
                        None,
                        now,
                        now,
                    ),
                ],
                columns=CATEGORY_COLUMNS,
            )
            await conn.copy_records_to_table(
                "customers",
                records=customer_rows,
                columns=CUSTOMER_COLUMNS,
            )
            await conn.copy_records_to_table(
                "permission_entries",
                records=entry_rows,
                columns=ENTRY_COLUMNS,
            )
            await conn.copy_records_to_table(
                "permission_states",
                records=state_rows,
                columns=STATE_COLUMNS,
            )
            await conn.copy_records_to_table(
                "preferences",
                records=preference_rows,
                columns=PREFERENCE_COLUMNS,
            )
        await sealed.seal_all(conn)  # personal data encrypted, as the service keeps it
        await conn.execute("ANALYZE")
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM customers) AS c,"
            " (SELECT count(*) FROM permission_states) AS s,"
            " (SELECT count(*) FROM permission_entries) AS e,"
            " (SELECT count(*) FROM preferences) AS p,"
            " (SELECT count(*) FROM permission_states s JOIN permission_entries e"
            "   ON e.id = s.entry_id AND e.customer_id = s.customer_id"
            "   AND e.status = s.status) AS consistent"
        )
    finally:
        await conn.close()
    expected = (customers, 2 * customers, 2 * customers, customers, 2 * customers)
    if tuple(counts) != expected:
        raise RuntimeError(f"loaded row counts {tuple(counts)} differ from {expected}")
    return Dataset(url=url, admin_staff_id=staff_id, customers=customers)
