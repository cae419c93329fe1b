"""The live benchmark's data: N ORDINARY customers, each with a GRANTED in-app permission for a
MARKETING category (ledger entry and folded state, consistent), one ADMIN staff, and a token
for each, signed as the server will verify them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from bench import sealed
from bench.fanout_data import CATEGORY_COLUMNS, CUSTOMER_COLUMNS, ENTRY_COLUMNS, STATE_COLUMNS
from tidings.core.ids import new_id
from tidings.core.tokens import TokenKind, TokenSigner

CATEGORY = "live_marketing"
CHANNEL = "in_app"
TIER = "ORDINARY"
# No digest and no daily caps for ORDINARY, so every round of the benchmark is delivered now.
TIER_POLICY = '{"ORDINARY": {"marketing_frequency": "REALTIME", "daily_cap": null,'
TIER_POLICY += ' "category_daily_cap": null}}'
TOKEN_TTL = 6 * 3600

STAFF_COLUMNS = [
    "id",
    "email",
    "password_hash",
    "role",
    "active",
    "token_version",
    "created_at",
]


@dataclass(frozen=True)
class LiveData:
    customer_ids: list[uuid.UUID]
    staff_id: uuid.UUID

    def customer_tokens(self, secret_key: str) -> list[str]:
        signer = TokenSigner(secret_key, TOKEN_TTL, TOKEN_TTL)
        return [signer.issue(TokenKind.CUSTOMER, cid, 0) for cid in self.customer_ids]

    def staff_token(self, secret_key: str) -> str:
        signer = TokenSigner(secret_key, TOKEN_TTL, TOKEN_TTL)
        return signer.issue(TokenKind.STAFF, self.staff_id, 0)


def _rows(customers: int, staff_id: uuid.UUID, now: datetime) -> tuple[list, list, list]:
    customer_rows: list[tuple] = []
    entry_rows: list[tuple] = []
    state_rows: list[tuple] = []
    for n in range(customers):
        cid = new_id()
        created = now - timedelta(seconds=customers - n)
        customer_rows.append(
            (
                cid,
                f"live-{n:06d}",
                f"Customer {n}",
                f"live{n}@example.com",
                None,
                "en",
                "UTC",
                TIER,
                "{}",
                0,
                created,
                created,
            )
        )
        entry_id = new_id()
        entry_rows.append(
            (
                entry_id,
                cid,
                CHANNEL,
                CATEGORY,
                "GRANTED",
                "import",
                '{"form": "app_onboarding"}',
                created,
                None,
                None,
                f"staff:{staff_id}",
                created,
            )
        )
        state_rows.append(
            (
                new_id(),
                cid,
                CHANNEL,
                CATEGORY,
                "GRANTED",
                "import",
                created,
                None,
                None,
                entry_id,
                created,
            )
        )
    return customer_rows, entry_rows, state_rows


async def load(url: str, customers: int) -> LiveData:
    """COPY everything in one transaction; checks the counts."""
    now = datetime.now(UTC)
    staff_id = new_id()
    customer_rows, entry_rows, state_rows = _rows(customers, staff_id, now)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "staff",
                records=[(staff_id, "live-admin@example.com", "!unusable", "ADMIN", True, 0, now)],
                columns=STAFF_COLUMNS,
            )
            await conn.copy_records_to_table(
                "categories",
                records=[
                    (
                        new_id(),
                        CATEGORY,
                        "Live offers",
                        None,
                        "MARKETING",
                        f'["{CHANNEL}"]',
                        True,
                        False,
                        None,
                        now,
                        now,
                    )
                ],
                columns=CATEGORY_COLUMNS,
            )
            await conn.copy_records_to_table(
                "customers", records=customer_rows, columns=CUSTOMER_COLUMNS
            )
            await conn.copy_records_to_table(
                "permission_entries", records=entry_rows, columns=ENTRY_COLUMNS
            )
            await conn.copy_records_to_table(
                "permission_states", records=state_rows, columns=STATE_COLUMNS
            )
        await sealed.seal_all(conn)  # personal data encrypted, as the service keeps it
        await conn.execute("ANALYZE")
        granted = await conn.fetchval(
            "SELECT count(*) FROM permission_states s JOIN permission_entries e"
            " ON e.id = s.entry_id WHERE s.channel = $1 AND s.category = $2"
            " AND s.status = 'GRANTED'",
            CHANNEL,
            CATEGORY,
        )
    finally:
        await conn.close()
    if granted != customers:
        raise RuntimeError(f"loaded {granted} consistent in-app grants, expected {customers}")
    return LiveData([row[0] for row in customer_rows], staff_id)


# The tables every send round updates several times over: their dead row versions pile up.
VACUUMED = ("deliveries", "notifications", "messages", "expansion_jobs", "stats_deltas")


async def vacuum(url: str) -> tuple[bool, int]:
    """VACUUM (ANALYZE) the tables the send rounds churn, as autovacuum would on a default
    PostgreSQL between repetitions. Returns (autovacuum on?, dead deliveries before).

    Why: each repetition adds three updates or more per delivery; with autovacuum off (this
    machine's CI configuration) the dead versions were never reclaimed, and by the ninth
    repetition the statements that read deliveries (the daily-cap count, the claim) waded
    through twice as many dead rows as live ones: a tier send's expansion alone took about
    30 s, and the benchmark reported it as a stall."""
    conn = await asyncpg.connect(url)
    try:
        autovacuum = await conn.fetchval("SHOW autovacuum") == "on"
        dead = await conn.fetchval(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'deliveries'"
        )
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(VACUUMED)}")
        return autovacuum, int(dead or 0)
    finally:
        await conn.close()
