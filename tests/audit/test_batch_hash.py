"""The batch hasher is `chain.entry_hash`, byte for byte, whatever the values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tidings.core.audit.batch_hash import BatchHasher
from tidings.core.audit.chain import GENESIS, entry_hash

SHARED = {"fields": ["email", "phone"], "operation": "Page"}
CASES = [
    {},
    {"action": "consent.grant", "targets": {"entry": str(uuid.uuid4()), "a": 1}},
    {"actor_kind": "system", "actor_id": None, "customer_id": None, "ip": None},
    {"request_id": None, "detail": {"z": [1, 2.5, None, True], "a": {"y": "ü", "b": "中文"}}},
    {"detail": {"quote": 'a "b" \\ c\n', "emoji": "🙂", "uuid": uuid.uuid4()}},
    {"at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=8)))},
    {"actor_id": "6F9619FF-8B86-D011-B42D-00C04FC964FF", "targets": {}},
    {"id": 10**15, "detail": SHARED},
    # A predecessor that is no hex digest (a tampered chain) is encoded, not quoted as is.
    {"prev_hash": 'not "hex" \\ ü'},
    {"prev_hash": "AB" * 32},
]


def entry(**overrides: object) -> dict:
    base = {
        "id": 7,
        "at": datetime(2026, 12, 1, 2, 3, 4, 500, tzinfo=UTC),
        "action": "customer.read",
        "actor_kind": "staff",
        "actor_id": uuid.uuid4(),
        "customer_id": uuid.uuid4(),
        "targets": {},
        "detail": SHARED,
        "request_id": "req-1",
        "ip": "127.0.0.1",
        "prev_hash": GENESIS,
    }
    return {**base, **overrides}


@pytest.mark.parametrize("overrides", CASES)
def test_one_entry_hashes_as_the_chain_does(overrides: dict) -> None:
    columns = entry(**overrides)
    assert BatchHasher().entry_hash(**columns) == entry_hash(**columns)


def test_a_batch_with_shared_values_hashes_as_the_chain_does() -> None:
    hasher = BatchHasher()
    prev = GENESIS
    actor = uuid.uuid4()
    for n in range(1, 50):
        columns = entry(**{"id": n, "actor_id": actor, **CASES[n % len(CASES)], "prev_hash": prev})
        ours = hasher.entry_hash(**columns)
        assert ours == entry_hash(**columns)
        prev = ours


async def test_appended_entries_chain_as_the_chain_hashes_them(db: str) -> None:
    """What record_many stores verifies with chain.entry_hash, read back from the database."""
    from tidings.core.audit import AuditEvent, RequestInfo, record, record_many, request_scope
    from tidings.core.models import AuditEntry

    customers = [uuid.uuid4() for _ in range(30)]
    with request_scope(RequestInfo("req-9", "203.0.113.9", f"staff:{uuid.uuid4()}")):
        await record_many(
            [AuditEvent("customer.read", customer_id=c, detail=SHARED) for c in customers]
        )
        await record("consent.grant", customer_id=customers[0], targets={"entry": "x"})
    await record("settings.tier_policy", actor="system", detail={"ORDINARY": {"cap": 3}})
    rows = await AuditEntry.all().order_by("id")
    assert len(rows) == 32
    prev = GENESIS
    for n, row in enumerate(rows, start=1):
        assert (row.id, row.prev_hash) == (n, prev)
        assert row.hash == entry_hash(
            id=row.id, at=row.at, action=row.action, actor_kind=row.actor_kind,
            actor_id=row.actor_id, customer_id=row.customer_id, targets=row.targets,
            detail=row.detail, request_id=row.request_id, ip=row.ip, prev_hash=row.prev_hash,
        )  # fmt: skip
        prev = row.hash
    assert rows[0].ip == "203.0.113.9" and rows[-1].request_id is None
