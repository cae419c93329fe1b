"""PostgreSQL only: real `tidings worker` processes draining one outbox side by side.

Each test makes its own database (not the shared fixture's), migrates it with `tidings
migrate`, writes the outbox in bulk with COPY, and points every worker at one local SMS API.
Each worker sends under its own sender id, so the peer can tell who sent what."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import (
    BLIND_INDEX_KEY,
    DATA_KEYS,
    KEYRING,
    SECRET,
    create_pg_database,
    drop_pg_database,
    pg_url,
)
from tests.providers.peers import SmsApi

DRAIN_TIMEOUT = 180.0
# Long enough for a healthy worker's batch under load, short enough to wait for.
LEASE_SECONDS = 15
LOOPS = 2  # TIDINGS_WORKER_CONCURRENCY: delivery loops per worker, PostgreSQL's default


@pytest.fixture
async def pg_database(tmp_path: Path) -> AsyncIterator[str]:
    name = await create_pg_database()
    url = pg_url(name)
    try:
        migrate = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tidings.api.cli",
            "migrate",
            env=worker_env(url),
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(migrate.communicate(), 120)
        assert migrate.returncode == 0, output.decode()
        yield url
    finally:
        await drop_pg_database(name)


@pytest.fixture
def sms_peer() -> Iterator[SmsApi]:
    peer = SmsApi()
    yield peer
    peer.close()


def worker_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    # The test's keyring: the workers decrypt what the test process wrote.
    env.update(
        TIDINGS_DATABASE_URL=url,
        TIDINGS_SECRET_KEY=SECRET,
        TIDINGS_DATA_KEYS=DATA_KEYS,
        TIDINGS_BLIND_INDEX_KEY=BLIND_INDEX_KEY,
        **extra,
    )
    return env


async def copy_customers(
    conn: asyncpg.Connection, count: int, tier: str = "HIGH_VALUE"
) -> list[uuid.UUID]:
    """`count` customers of `tier` with phones, written with COPY; their ids."""
    now = datetime.now(UTC)
    customers = [uuid.uuid4() for _ in range(count)]
    await conn.copy_records_to_table(
        "customers",
        columns=[
            "id",
            "external_id",
            "phone",
            "locale",
            "timezone",
            "tier",
            "attributes",
            "token_version",
            "created_at",
            "updated_at",
        ],
        # Encrypted as the service keeps them (core/crypto), under the test keyring.
        records=[
            (
                cid,
                f"c-{n}",
                KEYRING.encrypt(f"+1555{n:07d}".encode(), "customers", "phone", cid),
                "en",
                "UTC",
                tier,
                KEYRING.encrypt(b"{}", "customers", "attributes", cid),
                0,
                now,
                now,
            )
            for n, cid in enumerate(customers)
        ],
    )
    return customers


async def fill_outbox(url: str, count: int) -> list[uuid.UUID]:
    """`count` customers with phones, one TRANSACTIONAL message, and a QUEUED sms delivery to
    each, written with COPY. Returns the delivery ids."""
    now = datetime.now(UTC)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO categories (id, key, name, kind, default_channels, respect_quiet_hours,"
            " required, created_at, updated_at) VALUES ($1, 'otp', 'Codes', 'TRANSACTIONAL',"
            " '[\"sms\"]', FALSE, FALSE, $2, $2)",
            uuid.uuid4(),
            now,
        )
        customers = await copy_customers(conn, count)
        message = uuid.uuid4()
        await conn.execute(
            "INSERT INTO messages (id, category, status, idempotency_scope, idempotency_key,"
            " request_hash, audience, title, body, created_by, created_at) VALUES"
            " ($1, 'otp', 'EXPANDED', 'staff:test', 'bulk', 'x', '{}', 'Code', 'Your code', "
            " 'staff:test', $2)",
            message,
            now,
        )
        deliveries = [uuid.uuid4() for _ in range(count)]
        await conn.copy_records_to_table(
            "deliveries",
            columns=[
                "id",
                "message_id",
                "customer_id",
                "channel",
                "status",
                "rules",
                "attempts",
                "created_at",
                "updated_at",
            ],
            records=[
                (did, message, cid, "sms", "QUEUED", "[]", 0, now, now)
                for did, cid in zip(deliveries, customers, strict=True)
            ],
        )
    finally:
        await conn.close()
    return deliveries


def start_worker(
    url: str, peer: SmsApi, tag: str, directory: Path, lease: int = 120
) -> subprocess.Popen:
    log = open(directory / f"{tag}.log", "w")  # closed when the process ends
    return subprocess.Popen(
        [sys.executable, "-m", "tidings.api.cli", "worker"],
        env=worker_env(
            url,
            TIDINGS_SMS_URL=f"{peer.url}/v1/messages",
            TIDINGS_SMS_API_KEY=peer.api_key,
            TIDINGS_SMS_FROM=tag,  # who sent it, as the peer sees it
            TIDINGS_WORKER_LEASE_SECONDS=str(lease),
            TIDINGS_WORKER_CONCURRENCY=str(LOOPS),
        ),
        cwd=directory,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def logs(directory: Path) -> str:
    return "\n".join(p.read_text()[-2000:] for p in sorted(directory.glob("*.log")))


async def statuses(conn: asyncpg.Connection) -> Counter:
    found = await conn.fetch("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
    return Counter({row["status"]: row["n"] for row in found})


async def wait_for(
    conn: asyncpg.Connection,
    done,
    workers: list[subprocess.Popen],
    directory: Path,
) -> Counter:
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while True:
        counts = await statuses(conn)
        if done(counts):
            return counts
        for worker in workers:
            if worker.poll() is not None and worker.returncode != -signal.SIGKILL:
                pytest.fail(f"a worker exited with {worker.returncode}:\n{logs(directory)}")
        if time.monotonic() > deadline:
            pytest.fail(f"not drained in {DRAIN_TIMEOUT}s: {dict(counts)}\n{logs(directory)}")
        await asyncio.sleep(0.25)


def stop(workers: list[subprocess.Popen]) -> list[int | None]:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    codes = []
    for worker in workers:
        try:
            codes.append(worker.wait(timeout=30))
        except subprocess.TimeoutExpired:
            worker.kill()
            codes.append(None)
    return codes


def sent_references(peer: SmsApi) -> list[tuple[str, str]]:
    """(reference, sender) of every request the peer accepted."""
    with peer.lock:
        return [
            (r["json"]["reference"], r["json"]["from"])
            for r in peer.requests
            if r["headers"].get("authorization") == f"Bearer {peer.api_key}"
        ]


async def test_two_workers_drain_ten_thousand_deliveries_once_each(pg_database, sms_peer, tmp_path):
    ids = await fill_outbox(pg_database, 10_000)
    conn = await asyncpg.connect(pg_database)
    workers = [start_worker(pg_database, sms_peer, tag, tmp_path) for tag in ("w1", "w2")]
    try:
        counts = await wait_for(conn, lambda c: c["QUEUED"] == 0, workers, tmp_path)
    finally:
        codes = stop(workers)
    try:
        assert codes == [0, 0]  # SIGTERM: each finishes the rows in hand and exits cleanly
        assert counts == Counter({"SENT": len(ids)})
        sent = sent_references(sms_peer)
        by_reference = Counter(reference for reference, _ in sent)
        assert [ref for ref, n in by_reference.items() if n > 1] == []  # none sent twice
        assert set(by_reference) == {str(i) for i in ids}  # none lost
        by_worker = Counter(sender for _, sender in sent)
        assert set(by_worker) == {"w1", "w2"}, by_worker  # both did part of the work
        assert min(by_worker.values()) >= len(ids) // 20, by_worker
        rows = await conn.fetch(
            "SELECT provider, attempts, locked_until FROM deliveries WHERE status = 'SENT'"
        )
        assert {r["provider"] for r in rows} == {"http-sms"}
        assert {r["attempts"] for r in rows} == {1} and {r["locked_until"] for r in rows} == {None}
    finally:
        await conn.close()


async def test_a_killed_worker_loses_nothing(pg_database, sms_peer, tmp_path):
    """SIGKILL one worker mid-run. Its leased rows wait for the lease to run out (a short one,
    set through TIDINGS_WORKER_LEASE_SECONDS), then the survivor delivers them: everything at
    least once, and only those rows possibly twice."""
    ids = await fill_outbox(pg_database, 1_000)
    conn = await asyncpg.connect(pg_database)
    victim, survivor = (
        start_worker(pg_database, sms_peer, tag, tmp_path, lease=LEASE_SECONDS)
        for tag in ("w1", "w2")
    )
    workers = [victim, survivor]
    try:
        await wait_for(conn, lambda c: c["SENT"] >= 100, workers, tmp_path)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        counts = await wait_for(conn, lambda c: c["QUEUED"] == 0, [survivor], tmp_path)
        retried = await conn.fetch("SELECT id FROM deliveries WHERE attempts > 1")
        stranded = {str(r["id"]) for r in retried}
    finally:
        codes = stop(workers)
    try:
        assert codes[1] == 0
        assert counts == Counter({"SENT": len(ids)})
        by_reference = Counter(reference for reference, _ in sent_references(sms_peer))
        assert set(by_reference) == {str(i) for i in ids}  # at least once, none lost
        twice = {ref for ref, n in by_reference.items() if n > 1}
        assert twice <= stranded  # only what the dead worker held can have gone twice
        assert all(n <= 2 for n in by_reference.values())
        # At most a batch (100, the default) per delivery loop was in the dead worker's hands.
        assert len(stranded) <= 100 * LOOPS
    finally:
        await conn.close()
