"""Encrypted model fields (core/crypto/fields.py) against the real databases: values read
back as written, ciphertext moved by plain SQL to another row or column fails to load, and
the paths that would bypass encryption (filters, bulk updates) refuse."""

from __future__ import annotations

import pytest
from tortoise import connections

from tidings.core.crypto import KeyringError
from tidings.core.crypto.fields import decrypt_json, decrypt_text
from tidings.core.models import Customer


def param(db: str, n: int) -> str:
    return "?" if db.startswith("sqlite") else f"${n}"


async def two_customers() -> tuple[Customer, Customer]:
    ann = await Customer.create(
        external_id="ann",
        name="Ann",
        email="ann@example.com",
        phone="+15550100001",
        attributes={"k": "v"},
    )
    bob = await Customer.create(external_id="bob", email="bob@example.com", phone="+15550100002")
    return ann, bob


async def test_values_read_back_and_are_stored_encrypted(db):
    ann, _ = await two_customers()
    loaded = await Customer.get(id=ann.id)
    assert (loaded.name, loaded.email, loaded.phone, loaded.attributes) == (
        "Ann",
        "ann@example.com",
        "+15550100001",
        {"k": "v"},
    )
    _, rows = await connections.get("default").execute_query(
        f"SELECT email, attributes, email_index FROM customers WHERE external_id = {param(db, 1)}",
        ["ann"],
    )
    stored = rows[0]
    assert "ann" not in stored["email"] and '"k"' not in stored["attributes"]
    assert decrypt_text(stored["email"], "customers", "email", ann.id) == "ann@example.com"
    assert decrypt_json(stored["attributes"], "customers", "attributes", ann.id) == {"k": "v"}
    assert len(stored["email_index"]) == 64


async def test_ciphertext_moved_to_another_row_fails_to_load(db):
    ann, bob = await two_customers()
    conn = connections.get("default")
    await conn.execute_query(
        f"UPDATE customers SET email = (SELECT email FROM customers WHERE id = {param(db, 1)}) "
        f"WHERE id = {param(db, 2)}",
        [str(ann.id), str(bob.id)],
    )
    assert (await Customer.get(id=ann.id)).email == "ann@example.com"
    with pytest.raises(KeyringError, match=f"customers.email of row {bob.id} does not decrypt"):
        await Customer.get(id=bob.id)


async def test_ciphertext_moved_to_another_column_fails_to_load(db):
    ann, _ = await two_customers()
    await connections.get("default").execute_query(
        f"UPDATE customers SET phone = email WHERE id = {param(db, 1)}", [str(ann.id)]
    )
    with pytest.raises(KeyringError, match=r"customers\.phone"):
        await Customer.get(id=ann.id)


async def test_updates_keep_blind_indexes_in_step(db):
    ann, _ = await two_customers()
    ann.email = "ann.new@example.com"
    await ann.save(update_fields=["email", "updated_at"])
    assert await Customer.filter(email_index="ann@example.com").count() == 0
    assert await Customer.filter(email_index="ANN.NEW@example.com").count() == 1
    ann.phone = None
    await ann.save()
    assert await Customer.filter(phone_index="+15550100001").count() == 0
    assert (await Customer.get(id=ann.id)).phone is None


async def test_filters_and_bulk_updates_on_encrypted_columns_refuse(db):
    await two_customers()
    with pytest.raises(KeyringError, match="cannot be filtered"):
        await Customer.filter(email="ann@example.com").count()
    with pytest.raises(KeyringError, match="cannot be filtered"):
        await Customer.filter(external_id="ann").update(email="x@example.com")


async def test_a_partial_load_without_the_id_refuses(db):
    await two_customers()
    with pytest.raises(KeyringError, match="without the row id"):
        await Customer.filter(external_id="ann").only("email").first()


async def test_address_keys_name_the_attributes_holding_an_address(db):
    ann, _ = await two_customers()
    assert (await Customer.get(id=ann.id)).address_keys == ["k"]
    ann.attributes = {"line": "U123", "wechat": "", "age": 3}
    await ann.save(update_fields=["attributes"])
    _, rows = await connections.get("default").execute_query(
        f"SELECT address_keys FROM customers WHERE id = {param(db, 1)}", [str(ann.id)]
    )
    assert "U123" not in str(rows[0]["address_keys"])
    assert (await Customer.get(id=ann.id)).address_keys == ["line"]
    ann.attributes = {}
    await ann.save()
    assert (await Customer.get(id=ann.id)).address_keys is None
