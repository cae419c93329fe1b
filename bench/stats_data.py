"""The B7 history: N deliveries (10,000,000 by default) over 90 days, written by set-based SQL
(INSERT ... SELECT FROM generate_series) in chunks, with the stats triggers off while it loads.

Six categories (two transactional), three channels, three tiers, 50,000 customers, 3,000
campaign messages (each sent over a stretch of the period) and 30,000 transactional ones (one
delivery in ten). Statuses: suppressed (no permission, opted out, frequency cap, no address),
deferred (quiet hours, digest), failed (rejected, retries exhausted, invalid address), bounced,
complained, sent, delivered; opens, clicks, conversions with revenue and one-click
unsubscribes among what was sent. Every value comes from the row number and `random()` under
a fixed seed, so two loads of the same size hold the same history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from bench import sealed

VERSION = "b7-history-1"  # change when the history's shape changes: a kept database reloads
DAYS = 90
CUSTOMERS = 50_000
CAMPAIGNS = 3_000
TRANSACTIONAL = 30_000
CHUNK = 1_000_000
MARKETING = ("marketing", "newsletter", "promotions", "product_updates")
TRANSACTIONAL_CATEGORIES = ("orders", "security")
TRIGGER_PREFIX = "tidings_stats_"


def version() -> str:
    """VERSION and a digest of the migrations: a kept database whose schema came from other
    migrations (one edited in place included) is loaded again, not reused."""
    import tidings.core.migrations as migrations

    digest = hashlib.sha256()
    for path in sorted(Path(migrations.__path__[0]).glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return f"{VERSION}:{digest.hexdigest()[:12]}"


@dataclass(frozen=True)
class History:
    start: datetime  # on the hour, UTC
    end: datetime  # start + 90 days
    deliveries: int


def period(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The 90 days ending at the last full hour."""
    end = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(days=DAYS), end


async def stats_triggers(conn: asyncpg.Connection) -> list[str]:
    """The names of the stats triggers on `deliveries` (the lead's, named tidings_stats_*)."""
    rows = await conn.fetch(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'deliveries'::regclass"
        " AND NOT tgisinternal AND tgname LIKE $1 ORDER BY tgname",
        TRIGGER_PREFIX + "%",
    )
    return [r[0] for r in rows]


async def set_triggers(conn: asyncpg.Connection, enabled: bool) -> list[str]:
    """Enable or disable every stats trigger on `deliveries`; returns their names."""
    names = await stats_triggers(conn)
    verb = "ENABLE" if enabled else "DISABLE"
    for name in names:
        await conn.execute(f'ALTER TABLE deliveries {verb} TRIGGER "{name}"')
    return names


async def marker(conn: asyncpg.Connection) -> History | None:
    """The history a kept database holds, if it is complete and of this `version()`."""
    exists = await conn.fetchval("SELECT to_regclass('bench_history') IS NOT NULL")
    if not exists:
        return None
    row = await conn.fetchrow(
        "SELECT start_at, end_at, deliveries FROM bench_history WHERE version = $1", version()
    )
    return History(row[0], row[1], row[2]) if row else None


_CATEGORIES = """
INSERT INTO categories (id, key, name, kind, default_channels, respect_quiet_hours, required,
                        created_at, updated_at)
SELECT md5('cat' || key)::uuid, key, initcap(replace(key, '_', ' ')), kind,
       '["email", "sms", "push"]', kind = 'MARKETING', FALSE, $1, $1
FROM unnest($2::text[], $3::text[]) AS c(key, kind)
"""

_CUSTOMERS = """
INSERT INTO customers (id, external_id, name, email, phone, locale, timezone, tier, attributes,
                       token_version, created_at, updated_at)
SELECT md5('c' || k)::uuid, 'b7-' || k, 'Customer ' || k, 'customer' || k || '@example.com',
       CASE WHEN k % 3 <> 0 THEN '+1555' || lpad(k::text, 7, '0') END,
       (ARRAY['en', 'zh-CN', 'fr-FR'])[k % 3 + 1],
       (ARRAY['UTC', 'Asia/Shanghai', 'Europe/Paris', 'America/New_York'])[k % 4 + 1],
       CASE WHEN k % 10 = 0 THEN 'HIGH_VALUE' WHEN k % 10 < 4 THEN 'POTENTIAL'
            ELSE 'ORDINARY' END,
       '{}', 0, $1, $1
FROM generate_series(0, $2 - 1) AS k
"""

# Campaign k starts at start + k * 90 days / CAMPAIGNS; transactional j likewise.
_MESSAGES = """
INSERT INTO messages (id, category, kind, status, idempotency_scope, idempotency_key,
                      request_hash, audience, channels, title, body, created_by, created_at)
SELECT md5(prefix || k)::uuid,
       CASE WHEN prefix = 'm' THEN ($4::text[])[k % 4 + 1] ELSE ($5::text[])[k % 2 + 1] END,
       'send', 'EXPANDED', 'bench', prefix || k, md5(prefix || k),
       CASE WHEN prefix = 'm' THEN '{"tier": "ORDINARY"}' ELSE '{"customer_ids": []}' END::jsonb,
       NULL, 'Message ' || k, 'Body', 'bench',
       $1::timestamptz + (k::float8 / count) * ($2::timestamptz - $1::timestamptz)
FROM (VALUES ('m', $3::int), ('t', $6::int)) AS s(prefix, count),
     generate_series(0, count - 1) AS k
"""

# One delivery per row number n: created at start + n/N of the period (so ids, which carry the
# time like a UUIDv7, rise with n); one row in ten is transactional. r0 picks the channel, r1
# the status, r2 the reason and the times, r3 the engagement, r4 the unsubscribe.
_DELIVERIES = """
INSERT INTO deliveries (id, message_id, customer_id, channel, status, reason, rules, attempts,
                        not_before, provider, provider_id, delivered_at, opened_at, clicked_at,
                        tier, converted_at, revenue, unsubscribed_at, created_at, updated_at)
SELECT (lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7'
        || lpad(to_hex(n % 4096), 3, '0') || '8' || lpad(to_hex(n), 15, '0'))::uuid,
       message_id, md5('c' || ck)::uuid, channel, status,
       CASE status
         WHEN 'SUPPRESSED' THEN CASE WHEN r2 < 0.4 THEN 'NO_PERMISSION'
           WHEN r2 < 0.65 THEN 'OPTED_OUT' WHEN r2 < 0.9 THEN 'FREQUENCY_CAP'
           ELSE 'NO_ADDRESS' END
         WHEN 'DEFERRED' THEN CASE WHEN r2 < 0.6 THEN 'QUIET_HOURS' ELSE 'DIGEST' END
         WHEN 'FAILED' THEN CASE WHEN r2 < 0.5 THEN 'REJECTED'
           WHEN r2 < 0.8 THEN 'RETRIES_EXHAUSTED' ELSE 'INVALID_ADDRESS' END
       END,
       '[]'::jsonb, CASE WHEN sent THEN 1 ELSE 0 END,
       CASE WHEN status = 'DEFERRED' THEN at + interval '8 hours' END,
       CASE WHEN sent OR status = 'FAILED' THEN
         CASE channel WHEN 'email' THEN 'smtp' WHEN 'sms' THEN 'http-sms' ELSE 'fcm' END END,
       CASE WHEN sent THEN 'p' || n END,
       CASE WHEN status IN ('DELIVERED', 'COMPLAINED') THEN at + interval '20 seconds' END,
       CASE WHEN opened THEN at + r2 * interval '48 hours' END,
       CASE WHEN clicked THEN at + r2 * interval '48 hours' + interval '1 minute' END,
       CASE WHEN ck % 10 = 0 THEN 'HIGH_VALUE' WHEN ck % 10 < 4 THEN 'POTENTIAL'
            ELSE 'ORDINARY' END,
       CASE WHEN converted THEN at + r2 * interval '48 hours' + interval '10 minutes' END,
       CASE WHEN converted THEN round((5 + r2 * 195)::numeric, 2) END,
       CASE WHEN engageable AND NOT transactional AND channel = 'email' AND r4 < 0.003
            THEN at + interval '1 hour' END,
       at, at
FROM (
  SELECT n, at, message_id, ck, transactional, channel, status, r2, r4,
         sent, engageable, engageable AND channel <> 'sms' AND r3 < open_rate AS opened,
         engageable AND r3 < open_rate * 0.2 + CASE WHEN channel = 'sms' THEN 0.03 ELSE 0 END
           AS clicked,
         engageable AND r3 < open_rate * 0.03 + CASE WHEN channel = 'sms' THEN 0.004 ELSE 0 END
           AS converted
  FROM (
    SELECT n, at, message_id, ck, transactional, channel, status, r2, r3, r4,
           status IN ('SENT', 'DELIVERED', 'BOUNCED', 'COMPLAINED') AS sent,
           status IN ('SENT', 'DELIVERED', 'COMPLAINED') AS engageable,
           CASE channel WHEN 'email' THEN 0.28 WHEN 'push' THEN 0.12 ELSE 0 END AS open_rate
    FROM (
      SELECT n, at, message_id, ck, transactional, channel, r2, r3, r4,
             CASE WHEN r1 < 0.06 THEN 'SUPPRESSED' WHEN r1 < 0.08 THEN 'DEFERRED'
                  WHEN r1 < 0.095 THEN 'FAILED'
                  WHEN r1 < 0.11 AND channel <> 'push' THEN 'BOUNCED'
                  WHEN r1 < 0.1105 AND channel = 'email' THEN 'COMPLAINED'
                  WHEN channel = 'email' THEN 'SENT'
                  WHEN r1 < 0.2 THEN 'SENT' ELSE 'DELIVERED' END AS status
      FROM (
        SELECT n, at, transactional, r1, r2, r3, r4,
               CASE WHEN transactional
                    THEN md5('t' || n * $5::bigint / $2::bigint)::uuid
                    ELSE md5('m' || n * $4::bigint / $2::bigint)::uuid END AS message_id,
               (n * 7919) % $6 AS ck,
               CASE WHEN transactional AND r0 < 0.8 THEN 'email'
                    WHEN transactional THEN 'sms'
                    WHEN r0 < 0.6 THEN 'email' WHEN r0 < 0.85 THEN 'push'
                    ELSE 'sms' END AS channel
        FROM (
          SELECT n,
                 $7::timestamptz + (n::float8 / $2::bigint) * ($8::timestamptz - $7::timestamptz)
                   AS at,
                 n % 10 = 0 AS transactional,
                 random() AS r0, random() AS r1, random() AS r2, random() AS r3, random() AS r4
          FROM generate_series($1::bigint, $3::bigint - 1) AS n
        ) AS g
      ) AS c
    ) AS s
  ) AS t
) AS d
"""


async def load(url: str, deliveries: int, progress: Callable[[str], None]) -> History:
    """Write the history into a migrated, empty database; leaves the stats triggers as it found
    them and records the marker last (a load cut short is never reused)."""
    start, end = period()
    conn = await asyncpg.connect(url)
    try:
        names = await set_triggers(conn, False)
        try:
            async with conn.transaction():
                await conn.execute(
                    _CATEGORIES,
                    start,
                    list(TRANSACTIONAL_CATEGORIES + MARKETING),
                    ["TRANSACTIONAL"] * 2 + ["MARKETING"] * len(MARKETING),
                )
                await conn.execute(_CUSTOMERS, start, CUSTOMERS)
                await conn.execute(
                    _MESSAGES,
                    start,
                    end,
                    CAMPAIGNS,
                    list(MARKETING),
                    list(TRANSACTIONAL_CATEGORIES),
                    TRANSACTIONAL,
                )
            for first in range(0, deliveries, CHUNK):
                last = min(deliveries, first + CHUNK)
                progress(f"B7: deliveries {first:,} to {last:,} of {deliveries:,}")
                async with conn.transaction():
                    await conn.execute("SELECT setseed($1)", (first // CHUNK % 1000) / 1000)
                    await conn.execute(
                        _DELIVERIES,
                        first,
                        deliveries,
                        last,
                        CAMPAIGNS,
                        TRANSACTIONAL,
                        CUSTOMERS,
                        start,
                        end,
                    )
        finally:
            if names:
                await set_triggers(conn, True)
        await sealed.seal_all(conn)  # personal data encrypted, as the service keeps it
        await conn.execute("VACUUM ANALYZE deliveries")
        await conn.execute("ANALYZE")
        count = await conn.fetchval("SELECT count(*) FROM deliveries")
        if count != deliveries:
            raise RuntimeError(f"B7 loaded {count} deliveries, expected {deliveries}")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_history"
            " (version text PRIMARY KEY, start_at timestamptz, end_at timestamptz,"
            " deliveries bigint)"
        )
        await conn.execute(
            "INSERT INTO bench_history VALUES ($1, $2, $3, $4)", version(), start, end, deliveries
        )
    finally:
        await conn.close()
    return History(start, end, deliveries)
