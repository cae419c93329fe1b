"""The keyring (core/crypto/keyring.py): the ciphertext's layout, associated data binding it
to table, column and row, key ids, parsing of TIDINGS_DATA_KEYS, and the blind index."""

from __future__ import annotations

import base64

import pytest

from tidings.core.crypto import DataKey, Keyring, KeyringError, parse_data_keys, parse_index_key
from tidings.core.crypto.keyring import NONCE_BYTES, normalise

A = DataKey("a", b"A" * 32)
B = DataKey("bee", b"B" * 32)
INDEX = b"I" * 32


def test_layout_version_key_id_nonce_and_tag():
    ring = Keyring((B, A), INDEX)
    stored = ring.encrypt(b"ann@example.com", "customers", "email", "row-1")
    blob = base64.b64decode(stored)
    assert blob[0] == 1 and blob[1] == 3 and blob[2:5] == b"bee"
    assert len(blob) == 2 + 3 + NONCE_BYTES + len(b"ann@example.com") + 16
    assert ring.key_id_of(stored) == "bee"
    assert ring.decrypt(stored, "customers", "email", "row-1") == b"ann@example.com"
    # A fresh nonce every time: equal values do not give equal ciphertexts.
    assert stored != ring.encrypt(b"ann@example.com", "customers", "email", "row-1")


@pytest.mark.parametrize(
    ("table", "column", "row"),
    [
        ("customers", "email", "row-2"),
        ("customers", "phone", "row-1"),
        ("devices", "email", "row-1"),
    ],
)
def test_moved_to_another_row_column_or_table_fails(table, column, row):
    ring = Keyring((A,), INDEX)
    stored = ring.encrypt(b"secret", "customers", "email", "row-1")
    with pytest.raises(KeyringError, match="does not decrypt"):
        ring.decrypt(stored, table, column, row)


def test_tampered_truncated_and_plain_values_fail():
    ring = Keyring((A,), INDEX)
    blob = bytearray(base64.b64decode(ring.encrypt(b"secret", "t", "c", 1)))
    blob[-1] ^= 1
    with pytest.raises(KeyringError, match="does not decrypt"):
        ring.decrypt(base64.b64encode(bytes(blob)).decode(), "t", "c", 1)
    with pytest.raises(KeyringError, match="truncated"):
        ring.decrypt(base64.b64encode(bytes(blob[:20])).decode(), "t", "c", 1)
    with pytest.raises(KeyringError, match="not a ciphertext"):
        ring.decrypt("ann@example.com", "t", "c", 1)
    with pytest.raises(KeyringError, match="known version"):
        ring.decrypt(base64.b64encode(b"\x02" + bytes(blob[1:])).decode(), "t", "c", 1)


def test_the_first_key_encrypts_and_every_key_decrypts():
    old = Keyring((A,), INDEX).encrypt(b"x", "t", "c", 1)
    ring = Keyring((B, A), INDEX)
    assert ring.decrypt(old, "t", "c", 1) == b"x"
    assert ring.key_id_of(ring.encrypt(b"x", "t", "c", 1)) == "bee"
    with pytest.raises(KeyringError, match="no key 'a'"):
        Keyring((B,), INDEX).decrypt(old, "t", "c", 1)


def test_parse_data_keys():
    text = f"new:{base64.b64encode(b'n' * 32).decode()}, old:{base64.b64encode(b'o' * 32).decode()}"
    keys = parse_data_keys(text)
    assert [k.key_id for k in keys] == ["new", "old"] and keys[0].secret == b"n" * 32
    assert "n" * 32 not in repr(keys) and "nnnn" not in repr(Keyring(keys, INDEX))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "holds no key"),
        ("nokey", "id:base64"),
        ("bad id:" + base64.b64encode(b"x" * 32).decode(), "id:base64"),
        ("a:not-base64!!", "not valid base64"),
        ("a:" + base64.b64encode(b"short").decode(), "32 bytes"),
        ("a:{k},a:{k}".format(k=base64.b64encode(b"x" * 32).decode()), "twice"),
    ],
)
def test_parse_data_keys_refuses(text, message):
    with pytest.raises(KeyringError, match=message):
        parse_data_keys(text)


def test_parse_index_key():
    assert parse_index_key(base64.b64encode(INDEX).decode()) == INDEX
    with pytest.raises(KeyringError, match="32 bytes"):
        parse_index_key(base64.b64encode(b"x").decode())


def test_blind_index_is_keyed_normalised_and_separates_kinds():
    ring = Keyring((A,), INDEX)
    assert ring.blind_index("email", " Ann@Example.COM ") == ring.blind_index(
        "email", "ann@example.com"
    )
    assert ring.blind_index("phone", "+1 555 010-1234") == ring.blind_index("phone", "+15550101234")
    assert ring.blind_index("name", "Ann   LEE") == ring.blind_index("name", "ann lee")
    assert ring.blind_index("email", "x") != ring.blind_index("name", "x")
    assert ring.blind_index("email", "x") != Keyring((A,), b"J" * 32).blind_index("email", "x")
    assert len(ring.blind_index("email", "x")) == 64
    assert normalise("name", "Straße") == "strasse"
