"""The fan-out data set: one tier of N customers, each with an email and an SMS grant and a
preference for the category, streamed into PostgreSQL with COPY in chunks (memory stays flat
whatever N is). The permission ledger is left out: the send path reads only the folded states."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg

from bench import sealed
from tidings.core.ids import new_id

CATEGORY = "marketing"
TIER = "ORDINARY"
CHUNK = 50_000
LOCALES = ("en", "zh-CN", "fr-FR", "de-DE", "ja-JP")
TIMEZONES = ("UTC", "Asia/Shanghai", "Europe/Paris", "America/New_York", "Asia/Tokyo")
FREQUENCIES = ("REALTIME", "DAILY_DIGEST", "WEEKLY_DIGEST")

CUSTOMER_COLUMNS = [
    "id",
    "external_id",
    "name",
    "email",
    "phone",
    "locale",
    "timezone",
    "tier",
    "attributes",
    "token_version",
    "created_at",
    "updated_at",
]
CATEGORY_COLUMNS = [
    "id",
    "key",
    "name",
    "description",
    "kind",
    "default_channels",
    "respect_quiet_hours",
    "required",
    "fallback_channel",
    "created_at",
    "updated_at",
]
ENTRY_COLUMNS = [
    "id",
    "customer_id",
    "channel",
    "category",
    "status",
    "source",
    "evidence",
    "granted_at",
    "withdrawn_at",
    "expires_at",
    "recorded_by",
    "recorded_at",
]
STATE_COLUMNS = [
    "id",
    "customer_id",
    "channel",
    "category",
    "status",
    "source",
    "granted_at",
    "withdrawn_at",
    "expires_at",
    "entry_id",
    "updated_at",
]
PREFERENCE_COLUMNS = [
    "id",
    "customer_id",
    "category",
    "channels",
    "frequency",
    "quiet_start",
    "quiet_end",
    "updated_at",
]


def expected_deliveries(customers: int) -> int:
    """Every customer's preference names its channels: email, plus SMS for odd n."""
    return customers + customers // 2


def _chunk(start: int, stop: int, now: datetime) -> tuple[list, list, list]:
    customers: list[tuple] = []
    states: list[tuple] = []
    preferences: list[tuple] = []
    for n in range(start, stop):
        cid = new_id()
        created = now - timedelta(seconds=stop - n)
        customers.append(
            (
                cid,
                f"fan-{n:07d}",
                f"Customer {n}",
                f"customer{n}@example.com",
                f"+1555{n:07d}" if n % 2 else None,
                LOCALES[n % len(LOCALES)],
                TIMEZONES[n % len(TIMEZONES)],
                TIER,
                "{}",
                0,
                created,
                created,
            )
        )
        for k, channel in enumerate(("email", "sms")):
            status = "WITHDRAWN" if (n + k) % 7 == 0 else "GRANTED"
            expires_at = None
            if status == "GRANTED" and n % 5 == 0:
                expires_at = now + timedelta(days=30) if k else now - timedelta(days=1)
            states.append(
                (
                    uuid.uuid4(),
                    cid,
                    channel,
                    CATEGORY,
                    status,
                    "import",
                    created,
                    created + timedelta(minutes=5) if status == "WITHDRAWN" else None,
                    expires_at,
                    uuid.uuid4(),
                    created,
                )
            )
        quiet = n % 3 == 0
        preferences.append(
            (
                uuid.uuid4(),
                cid,
                CATEGORY,
                '["email", "sms"]' if n % 2 else '["email"]',
                FREQUENCIES[n % 3],
                "22:00" if quiet else None,
                "08:00" if quiet else None,
                created,
            )
        )
    return customers, states, preferences


def _chunks(customers: int, now: datetime) -> Iterator[tuple[list, list, list]]:
    for start in range(0, customers, CHUNK):
        yield _chunk(start, min(customers, start + CHUNK), now)


async def load(url: str, customers: int) -> None:
    """The category, then the customers with their grants and preferences, chunk by chunk."""
    now = datetime.now(UTC)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO categories (id, key, name, kind, default_channels,"
                " respect_quiet_hours, required, created_at, updated_at)"
                " VALUES ($1, $2, 'Marketing', 'MARKETING', '[\"email\"]', TRUE, FALSE, $3, $3)",
                new_id(),
                CATEGORY,
                now,
            )
            for customer_rows, state_rows, preference_rows in _chunks(customers, now):
                await conn.copy_records_to_table(
                    "customers", records=customer_rows, columns=CUSTOMER_COLUMNS
                )
                await conn.copy_records_to_table(
                    "permission_states", records=state_rows, columns=STATE_COLUMNS
                )
                await conn.copy_records_to_table(
                    "preferences", records=preference_rows, columns=PREFERENCE_COLUMNS
                )
        await sealed.seal_all(conn)  # personal data encrypted, as the service keeps it
        await conn.execute("ANALYZE")
        count = await conn.fetchval("SELECT count(*) FROM customers WHERE tier = $1", TIER)
    finally:
        await conn.close()
    if count != customers:
        raise RuntimeError(f"loaded {count} customers, expected {customers}")
