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
