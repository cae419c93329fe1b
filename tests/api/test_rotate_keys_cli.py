"""`tidings rotate-keys` run for real in a subprocess against the session's database: stopped
after N batches it says so and the next run finishes; a row under a key no longer in the
keyring stops it with exit 5, naming the key."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from asyncio.subprocess import PIPE

import pytest
from tortoise import connections

from tests.conftest import BLIND_INDEX_KEY, DATA_KEYS, KEYRING, SECRET
from tidings.core.crypto import Keyring, install_keyring, parse_data_keys, parse_index_key
from tidings.core.enums import Platform
from tidings.core.models import Customer, Device

TIDINGS = os.path.join(os.path.dirname(sys.executable), "tidings")
NEW = "t2:" + base64.b64encode(b"2" * 32).decode()
LOST = "t9:" + base64.b64encode(b"9" * 32).decode()


@pytest.fixture(autouse=True)
def restore_keyring():
    yield
    install_keyring(KEYRING)


async def rotate(db: str, keys: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(
        TIDINGS_DATABASE_URL=db,
        TIDINGS_SECRET_KEY=SECRET,
        TIDINGS_DATA_KEYS=keys,
        TIDINGS_BLIND_INDEX_KEY=BLIND_INDEX_KEY,
    )
    process = await asyncio.create_subprocess_exec(
        TIDINGS, "rotate-keys", *args, stdout=PIPE, stderr=PIPE, env=env
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


async def stored_key_ids() -> set[str]:
    _, rows = await connections.get("default").execute_query(
        "SELECT email, attributes FROM customers"
    )
    _, tokens = await connections.get("default").execute_query("SELECT token FROM devices")
    values = [r["email"] for r in rows] + [r["attributes"] for r in rows]
    values += [r["token"] for r in tokens]
    return {KEYRING.key_id_of(v) for v in values if v is not None}


async def test_rotate_keys_stops_after_n_batches_and_the_next_run_finishes(db):
    for n in range(3):
        customer = await Customer.create(external_id=f"cli-{n}", email=f"cli{n}@example.com")
        await Device.create(
            customer=customer,
            platform=Platform.WEB,
            token=f"cli-token-{n}-0123456789",
            token_hash=f"c{n}",
        )
    assert await stored_key_ids() == {"t1"}
    keys = f"{NEW},{DATA_KEYS}"
    code, out, err = await rotate(db, keys, "--batch-size", "1", "--max-batches", "2")
    assert code == 0, err
    assert (
        out.strip() == "rewrote 2 of 2 rows under key 't2' (stopped early; run it again to finish)"
    )
    assert await stored_key_ids() == {"t1", "t2"}
    code, out, err = await rotate(db, keys, "--batch-size", "2")
    assert code == 0, err
    assert out.strip() == "rewrote 4 of 6 rows under key 't2' (done)"
    assert "100.0%" in err and "6 / 6 rows" in err
    assert await stored_key_ids() == {"t2"}
    install_keyring(Keyring(parse_data_keys(NEW), parse_index_key(BLIND_INDEX_KEY)))
    assert sorted(c.email for c in await Customer.all()) == [
        f"cli{n}@example.com" for n in range(3)
    ]
    assert await Customer.filter(email_index="CLI1@example.com").count() == 1


async def test_a_row_under_a_missing_key_stops_rotation_with_exit_5(db):
    await Customer.create(external_id="cli-lost", email="lost@example.com")
    code, out, err = await rotate(db, LOST)
    assert code == 5, err
    assert "no key 't1' in the keyring" in err and "lost@example.com" not in err
    assert out == ""


async def test_rotate_keys_refuses_bad_flags(db):
    code, _, err = await rotate(db, DATA_KEYS, "--max-batches", "0")
    assert code == 2 and "must be positive" in err


async def test_rotate_keys_killed_mid_run_is_finished_by_the_next(db):
    await Customer.bulk_create(
        [Customer(external_id=f"kill-{n}", email=f"kill{n}@example.com") for n in range(400)]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    keys = f"{NEW},{DATA_KEYS}"
    env.update(
        TIDINGS_DATABASE_URL=db,
        TIDINGS_SECRET_KEY=SECRET,
        TIDINGS_DATA_KEYS=keys,
        TIDINGS_BLIND_INDEX_KEY=BLIND_INDEX_KEY,
    )
    process = await asyncio.create_subprocess_exec(
        TIDINGS, "rotate-keys", "--batch-size", "1", stdout=PIPE, stderr=PIPE, env=env
    )
    assert process.stderr is not None
    first = await asyncio.wait_for(process.stderr.readline(), 60)  # the bar's first line
    assert b"rows" in first
    process.kill()  # SIGKILL: no clean-up, a batch may be half done (its transaction rolls back)
    await process.wait()
    assert process.returncode == -9
    assert await stored_key_ids() == {"t1", "t2"}  # part done
    code, out, err = await rotate(db, keys, "--batch-size", "50")
    assert code == 0, err
    assert out.strip().endswith("(done)")
    assert await stored_key_ids() == {"t2"}
    install_keyring(Keyring(parse_data_keys(NEW), parse_index_key(BLIND_INDEX_KEY)))
    emails = sorted(c.email for c in await Customer.all())
    assert emails == sorted(f"kill{n}@example.com" for n in range(400))
