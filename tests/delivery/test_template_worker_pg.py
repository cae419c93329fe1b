"""PostgreSQL only: a real `tidings worker` process meets templates that run away for some
recipients. Those deliveries fail with the limit in lastError; the other fifty of the same
batch are sent, promptly, and the worker goes on."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import asyncpg

from tests.conftest import KEYRING
from tests.delivery.test_workers_pg import (  # noqa: F401 (fixtures)
    logs,
    pg_database,
    sms_peer,
    start_worker,
    stop,
    wait_for,
)

# Cheap unless the customer's attributes say otherwise: recursion that doubles with
# `depth`, and nested loops over `rows`.
BODY = (
    "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
    "{{ f(customer.attributes.depth | default(0)) }}"
    "{% for a in customer.attributes.rows | default([]) %}"
    "{% for b in customer.attributes.rows %}{% endfor %}{% endfor %}"
    "Your code is {{ data.code }}"
)


async def fill(url: str, attributes: list[dict]) -> dict[uuid.UUID, int]:
    """A TRANSACTIONAL category with an sms template, one message without content, and a
    QUEUED sms delivery to a customer per `attributes`. Returns delivery id → index."""
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
        await conn.execute(
            "INSERT INTO templates (id, category, channel, locale, title, body, updated_at)"
            " VALUES ($1, 'otp', 'sms', 'en', 'Code', $2, $3)",
            uuid.uuid4(),
            BODY,
            now,
        )
        message = uuid.uuid4()
        await conn.execute(
            "INSERT INTO messages (id, category, status, idempotency_scope, idempotency_key,"
            " request_hash, audience, data, created_by, created_at) VALUES"
            " ($1, 'otp', 'EXPANDED', 'staff:test', 'codes', 'x', '{}', '{\"code\": \"1234\"}',"
            " 'staff:test', $2)",
            message,
            now,
        )
        deliveries: dict[uuid.UUID, int] = {}
        for n, attrs in enumerate(attributes):
            customer = uuid.uuid4()
            await conn.execute(
                "INSERT INTO customers (id, external_id, phone, locale, timezone, tier,"
                " attributes, token_version, created_at, updated_at) VALUES"
                " ($1, $2, $3, 'en', 'UTC', 'HIGH_VALUE', $4, 0, $5, $5)",
                customer,
                f"c-{n}",
                # Encrypted as the service keeps them, under the test keyring.
                KEYRING.encrypt(f"+1555{n:07d}".encode(), "customers", "phone", customer),
                KEYRING.encrypt(json.dumps(attrs).encode(), "customers", "attributes", customer),
                now,
            )
            delivery = uuid.UUID(int=(1 << 64) + n)  # created in this order, claimed so
            await conn.execute(
                "INSERT INTO deliveries (id, message_id, customer_id, channel, status, rules,"
                " attempts, created_at, updated_at) VALUES ($1, $2, $3, 'sms', 'QUEUED', '[]',"
                " 0, $4, $4)",
                delivery,
                message,
                customer,
                now,
            )
            deliveries[delivery] = n
    finally:
        await conn.close()
    return deliveries


async def test_a_runaway_template_fails_its_deliveries_and_holds_up_no_other(
    pg_database,  # noqa: F811 (the fixture)
    sms_peer,  # noqa: F811
    tmp_path,
):
    attributes: list[dict] = [{} for _ in range(50)]
    attributes.insert(10, {"depth": 40})  # 2**40 macro calls: the time limit
    attributes.insert(30, {"rows": list(range(400))})  # 160,000 iterations
    deliveries = await fill(pg_database, attributes)
    conn = await asyncpg.connect(pg_database)
    worker = start_worker(pg_database, sms_peer, "w1", tmp_path)
    started = time.monotonic()
    try:
        counts = await wait_for(conn, lambda c: c["QUEUED"] == 0, [worker], tmp_path)
        drained = time.monotonic() - started
        rows = await conn.fetch("SELECT id, status, reason, last_error FROM deliveries")
        assert worker.poll() is None, logs(tmp_path)  # the worker goes on
    finally:
        codes = stop([worker])
        await conn.close()
    assert codes == [0]
    assert counts == Counter({"SENT": 50, "FAILED": 2}), logs(tmp_path)
    failed = {deliveries[r["id"]]: (r["reason"], r["last_error"]) for r in rows if r["reason"]}
    assert failed == {
        10: ("REJECTED", "template: body: rendering took over 200 ms"),
        30: ("REJECTED", "template: body, line 1: more than 100000 loop iterations"),
    }
    with sms_peer.lock:
        bodies = Counter(r["json"]["body"] for r in sms_peer.requests)
    assert bodies == Counter({"Code\nYour code is 1234": 50})
    # A worker starts in a few seconds; the two runaways cost the batch half a second.
    assert drained < 30, f"{drained:.1f}s\n{logs(tmp_path)}"
