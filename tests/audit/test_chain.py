"""The audit chain as written: gapless ids, each entry hashing its columns and its
predecessor's hash, concurrent appenders serialised into one line."""

from __future__ import annotations

import asyncio
import itertools
import uuid

from tidings.core.audit import GENESIS, RequestInfo, entry_hash, record, record_many, request_scope
from tidings.core.audit.log import AuditEvent
from tidings.core.models import AuditEntry


def _recomputed(entry: AuditEntry) -> str:
    return entry_hash(
        id=entry.id,
        at=entry.at,
        action=entry.action,
        actor_kind=entry.actor_kind,
        actor_id=entry.actor_id,
        customer_id=entry.customer_id,
        targets=entry.targets,
        detail=entry.detail,
        request_id=entry.request_id,
        ip=entry.ip,
        prev_hash=entry.prev_hash,
    )


async def test_entries_chain_and_carry_the_request(db: str) -> None:
    customer = uuid.uuid4()
    staff = uuid.uuid4()
    with request_scope(RequestInfo("req-1", "10.0.0.7", f"staff:{staff}")):
        await record("customer.read", customer_id=customer, detail={"fields": ["email"]})
        await record_many(
            [
                AuditEvent("consent.grant", customer_id=customer, targets={"grant": "g1"}),
                AuditEvent("send", actor="system", detail={"size": 3}),
            ]
        )
    await record("worker.start")
    entries = await AuditEntry.all().order_by("id")
    assert [e.id for e in entries] == [1, 2, 3, 4]
    assert entries[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
    for entry in entries:
        assert _recomputed(entry) == entry.hash
    first = entries[0]
    assert (first.actor_kind, first.actor_id, first.customer_id) == ("staff", staff, customer)
    assert (first.request_id, first.ip, first.detail) == (
        "req-1",
        "10.0.0.7",
        {"fields": ["email"]},
    )
    assert (entries[2].actor_kind, entries[2].actor_id) == ("system", None)
    assert (entries[3].actor_kind, entries[3].request_id) == ("system", None)


async def test_a_changed_column_no_longer_matches_its_hash(db: str) -> None:
    await record("customer.update", customer_id=uuid.uuid4(), detail={"fields": ["name"]})
    entry = await AuditEntry.get(id=1)
    entry.detail = {"fields": ["email"]}
    assert _recomputed(entry) != entry.hash


async def test_concurrent_appenders_make_one_line(db: str) -> None:
    await asyncio.gather(
        *(record_many([AuditEvent(f"a{i}.{j}") for j in range(3)]) for i in range(8))
    )
    entries = await AuditEntry.all().order_by("id")
    assert [e.id for e in entries] == list(range(1, 25))
    prev = GENESIS
    for entry in entries:
        assert entry.prev_hash == prev and _recomputed(entry) == entry.hash
        prev = entry.hash
