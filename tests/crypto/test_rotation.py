"""`tidings rotate-keys` (core/crypto/rotation.py): rows move under the newest key in
batches; a run stopped part-way is finished by the next; rows under the old key decrypt
meanwhile; `reindex` moves the blind indexes to a new index key."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from tortoise import connections

from tests.conftest import KEYRING
from tidings.core.crypto import (
    DataKey,
    Keyring,
    KeyringError,
    active_keyring,
    install_keyring,
)
from tidings.core.crypto.rotation import rotate_keys
from tidings.core.enums import GrantStatus, Platform
from tidings.core.models import Customer, Device, PermissionEntry
from tidings.core.services.customers import device_token_hash

OLD = KEYRING.data_keys[0]
NEW = DataKey("t2", b"n" * 32)
INDEX_KEY = b"i" * 32  # the one tests/conftest.py uses
NEW_INDEX_KEY = b"j" * 32


@pytest.fixture(autouse=True)
def restore_keyring() -> Iterator[None]:
    yield
    install_keyring(KEYRING)


async def populate(count: int) -> list[Customer]:
    customers = []
    for n in range(count):
        customer = await Customer.create(
            external_id=f"r-{n}",
            name=f"Rot {n}",
            email=f"rot{n}@example.com",
            phone=f"+1555010{n:04d}",
            attributes={"n": n},
        )
        await Device.create(
            customer=customer,
            platform=Platform.IOS,
            token=f"tok-{n}-abcdefghijkl",
            token_hash=f"h{n}",
        )
        await PermissionEntry.create(
            customer=customer,
            channel="email",
            category="news",
            status=GrantStatus.GRANTED,
            source="api",
            evidence={"ip": f"10.0.0.{n}"},
            recorded_by="system",
        )
        customers.append(customer)
    return customers


async def key_ids() -> dict[str, int]:
    """How many stored values each key id holds, over every encrypted column."""
    conn = connections.get("default")
    counts: dict[str, int] = {}
    for table, columns in (
        ("customers", ("name", "email", "phone", "attributes")),
        ("devices", ("token",)),
        ("permission_entries", ("evidence",)),
    ):
        _, rows = await conn.execute_query(f'SELECT {", ".join(columns)} FROM "{table}"')
        for row in rows:
            for column in columns:
                if row[column] is not None:
                    key_id = active_keyring().key_id_of(row[column])
                    counts[key_id] = counts.get(key_id, 0) + 1
    return counts


async def everything_reads(count: int) -> None:
    customers = sorted(await Customer.all(), key=lambda c: c.external_id)
    assert [(c.email, c.attributes) for c in customers] == [
        (f"rot{n}@example.com", {"n": n}) for n in sorted(range(count), key=lambda n: f"r-{n}")
    ]
    assert sorted(d.token for d in await Device.all()) == sorted(
        f"tok-{n}-abcdefghijkl" for n in range(count)
    )
    assert sorted(e.evidence["ip"] for e in await PermissionEntry.all()) == sorted(
        f"10.0.0.{n}" for n in range(count)
    )


async def test_rotation_stops_part_way_reads_meanwhile_and_finishes_on_the_next_run(db):
    await populate(5)  # 5 × (4 + 1 + 1) = 30 values under the old key
    assert await key_ids() == {OLD.key_id: 30}
    install_keyring(Keyring((NEW, OLD), INDEX_KEY))
    seen: list[tuple[int, int]] = []
    stopped = await rotate_keys(
        active_keyring(), batch_size=2, max_batches=2, progress=lambda d, t: seen.append((d, t))
    )
    assert (stopped.finished, stopped.batches, stopped.rewritten) == (False, 2, 4)
    assert seen == [(2, 15), (4, 15)]
    assert await key_ids() == {NEW.key_id: 16, OLD.key_id: 14}
    await everything_reads(5)  # both keys decrypt meanwhile
    # New writes go under the new key at once.
    await Customer.create(external_id="r-new", email="fresh@example.com")
    done = await rotate_keys(active_keyring(), batch_size=2)
    assert done.finished and done.rewritten == 11  # 1 customer left + 5 devices + 5 entries
    assert await key_ids() == {NEW.key_id: 32}  # + the new email and attributes
    again = await rotate_keys(active_keyring(), batch_size=2)
    assert again.finished and again.rewritten == 0  # idempotent
    install_keyring(Keyring((NEW,), INDEX_KEY))  # the old key may go now
    await Customer.filter(external_id="r-new").delete()
    await everything_reads(5)
    assert await Customer.filter(email_index="ROT3@example.com").count() == 1


async def test_a_row_under_a_removed_key_names_the_missing_key(db):
    await populate(1)
    install_keyring(Keyring((NEW,), INDEX_KEY))
    with pytest.raises(KeyringError, match="no key 't1'"):
        await Customer.all()
    with pytest.raises(KeyringError, match="no key 't1'"):
        await rotate_keys(active_keyring())


async def test_reindex_moves_lookups_to_a_new_blind_index_key(db):
    await populate(3)
    install_keyring(Keyring((OLD,), NEW_INDEX_KEY))
    # Not yet reindexed: an exact lookup under the new index key finds nothing.
    assert await Customer.filter(email_index="rot1@example.com").count() == 0
    plain = await rotate_keys(active_keyring())
    assert plain.finished and plain.rewritten == 0  # already under the newest data key
    result = await rotate_keys(active_keyring(), reindex=True, batch_size=2)
    assert result.finished and result.rewritten == 6  # 3 customers, 3 devices
    assert await Customer.filter(email_index="rot1@example.com").count() == 1
    assert await Customer.filter(phone_index="+15550100002").count() == 1
    assert await Customer.filter(name_index="ROT 0").count() == 1
    # Devices' token hashes are keyed by the index key too: registering again finds them.
    assert await Device.filter(token_hash=device_token_hash("tok-2-abcdefghijkl")).count() == 1
    await everything_reads(3)


def test_keys_are_compared_by_id_not_by_bytes():
    text = base64.b64encode(b"x" * 32).decode()
    assert Keyring((DataKey("a", base64.b64decode(text)),), INDEX_KEY).current.key_id == "a"
