"""One side of the fan-out benchmark, in a process of its own so that its peak RSS is its own.

`python -m bench.fanout_child expand URL` sends to the tier and runs `expand_due` until the job
is done; `python -m bench.fanout_child copy URL ROWS` is the baseline: it empties the
deliveries table and COPYs as many rows, shaped like the expansion's, back in. Each prints one
JSON line: seconds, rows, peak RSS and the RSS it started from (MB).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg

from bench import sealed
from bench.fanout_data import CATEGORY, TIER


def _status_mb(field: str) -> float:
    """A /proc/self/status figure in MB. VmHWM is this process's own RSS high-water mark;
    `ru_maxrss` is not: Linux carries the parent's RSS at fork across exec into it."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _peak_rss_mb() -> float:
    return _status_mb("VmHWM")


def _current_rss_mb() -> float:
    return _status_mb("VmRSS")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def expand(url: str) -> dict:
    from tidings.core import db
    from tidings.core.delivery.expansion import expand_due
    from tidings.core.delivery.sending import SendRequest
    from tidings.core.delivery.tiers import TierPolicies
    from tidings.core.enums import MessageStatus, Role, Tier
    from tidings.core.ids import new_id
    from tidings.core.models import Staff
    from tidings.core.models.messages import Message
    from tidings.core.services import Services
    from tidings.core.viewer import Viewer, ViewerKind

    await db.init_db(url, keyring=sealed.KEYRING)
    try:
        tiers = TierPolicies()
        services = Services.build(frozenset({"email", "sms", "push", "in_app"}), tiers)
        # A real staff row: expansion checks the sender's right again, and an unknown
        # sender's tier send would be suppressed whole.
        admin = await Staff.create(
            email=f"bench-{new_id()}@example.com", password_hash="-", role=Role.ADMIN
        )
        viewer = Viewer(ViewerKind.STAFF, admin.id, Role.ADMIN)
        request = SendRequest(
            idempotency_key=f"fanout-{new_id()}",
            category=CATEGORY,
            tier=Tier(TIER),
            title="Spring sale",
            body="20% off, today only.",
        )
        start_rss = _current_rss_mb()
        crypto = -sealed.TimedKeyring.seconds
        calls = -sealed.TimedKeyring.calls
        cpu = -_cpu_seconds()
        started = time.perf_counter()
        message = await services.sending.send(viewer, request)
        written = rounds = 0
        while True:
            rounds += 1
            written += await expand_due(tiers, datetime.now(UTC))
            status = (await Message.get(id=message.id)).status
            if status is MessageStatus.EXPANDED:
                break
            if rounds > 100_000:
                raise RuntimeError("the expansion job never finished")
        seconds = time.perf_counter() - started
        cpu += _cpu_seconds()
        crypto += sealed.TimedKeyring.seconds
        calls += sealed.TimedKeyring.calls
    finally:
        await db.close_db()
    return {
        "seconds": seconds,
        "rows": written,
        "peak_rss_mb": _peak_rss_mb(),
        "cpu_seconds": cpu,
        "start_rss_mb": start_rss,
        "message_id": str(message.id),
        "crypto_seconds": crypto,
        "crypto_calls": calls,
    }


async def _customer_ids(conn: asyncpg.Connection, rows: int) -> AsyncIterator[object]:
    """Customer ids of the tier in id order, by keyset, round and round until `rows`."""
    given = 0
    while given < rows:
        cursor = None
        while given < rows:
            batch = await conn.fetch(
                "SELECT id FROM customers WHERE tier = $1 AND ($2::uuid IS NULL OR id > $2)"
                " ORDER BY id LIMIT 10000",
                TIER,
                cursor,
            )
            if not batch:
                break
            for record in batch[: rows - given]:
                yield record[0]
            given += min(len(batch), rows - given)
            cursor = batch[-1][0]


async def copy(url: str, rows: int) -> dict:
    from tidings.core.ids import new_id

    reader = await asyncpg.connect(url)
    writer = await asyncpg.connect(url)
    try:
        samples = await writer.fetch(
            "SELECT message_id, channel, status, reason, rules::text AS rules, not_before"
            " FROM deliveries TABLESAMPLE SYSTEM (1) LIMIT 2000"
        )
        if not samples:
            samples = await writer.fetch(
                "SELECT message_id, channel, status, reason, rules::text AS rules, not_before"
                " FROM deliveries LIMIT 2000"
            )
        shapes = [tuple(s) for s in samples]
        await writer.execute("TRUNCATE deliveries CASCADE")  # delivery_events refers to it
        await writer.execute("VACUUM ANALYZE deliveries")

        async def records() -> AsyncIterator[tuple]:
            now = datetime.now(UTC)
            n = 0
            async for customer_id in _customer_ids(reader, rows):
                message_id, channel, status, reason, rules, not_before = shapes[n % len(shapes)]
                n += 1
                yield (
                    new_id(),
                    message_id,
                    customer_id,
                    channel,
                    status,
                    reason,
                    rules,
                    0,
                    not_before,
                    None,
                    None,
                    None,
                    None,
                    now,
                    now,
                )

        start_rss = _current_rss_mb()
        cpu = -_cpu_seconds()
        started = time.perf_counter()
        async with writer.transaction():
            await writer.copy_records_to_table(
                "deliveries",
                records=records(),
                columns=[
                    "id",
                    "message_id",
                    "customer_id",
                    "channel",
                    "status",
                    "reason",
                    "rules",
                    "attempts",
                    "not_before",
                    "locked_until",
                    "provider",
                    "provider_id",
                    "last_error",
                    "created_at",
                    "updated_at",
                ],
            )
        seconds = time.perf_counter() - started
        cpu += _cpu_seconds()
        copied = await writer.fetchval("SELECT count(*) FROM deliveries")
    finally:
        await reader.close()
        await writer.close()
    return {
        "seconds": seconds,
        "rows": copied,
        "peak_rss_mb": _peak_rss_mb(),
        "cpu_seconds": cpu,
        "start_rss_mb": start_rss,
    }


def main() -> None:
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "expand":
        main = expand(url)
    elif mode == "copy":
        main = copy(url, int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(main)
    else:
        result = uvloop.run(main)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
