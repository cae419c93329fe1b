"""Encrypted columns that read and write like plain ones.

`EncryptedTextField` and `EncryptedJSONField` encrypt in `to_db_value`, which tortoise calls
with the model instance (its id is the associated data); `to_python_value` has no instance,
so `EncryptedModel._init_from_db` decrypts right after a row is loaded. Code reading
`customer.email` therefore sees the address. `values()`, `values_list()` and raw SQL see the
stored ciphertext: decrypt those with `decrypt_text` / `decrypt_json`.

`BlindIndexField` holds the HMAC of another field's normalised value, computed whenever the
row is written; a filter on it takes the plain value and hashes it
(`Customer.filter(email_index="a@b.example")`).
"""

from __future__ import annotations

import json
from typing import Any

from tortoise import fields
from tortoise.models import Model

from tidings.core.crypto.active import active_keyring
from tidings.core.crypto.keyring import KeyringError


class EncryptedTextField(fields.TextField):
    """A text value stored AES-GCM encrypted, bound to its table, column and row."""

    def encode(self, value: Any) -> bytes:
        return str(value).encode()

    def decode(self, plaintext: bytes) -> Any:
        return plaintext.decode()

    def to_db_value(self, value: Any, instance: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(instance, Model) or instance.pk is None:
            raise KeyringError(
                f"{self.model_field_name} is encrypted: it cannot be filtered on or "
                "updated in bulk (use its blind index, or save the instance)"
            )
        table = instance._meta.db_table
        return active_keyring().encrypt(
            self.encode(value), table, self.source_field or self.model_field_name, instance.pk
        )


class EncryptedJSONField(EncryptedTextField):
    """A JSON value (a dict, a list) stored encrypted."""

    def encode(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

    def decode(self, plaintext: bytes) -> Any:
        return json.loads(plaintext)

    def to_python_value(self, value: Any) -> Any:
        return value  # a dict assigned stays a dict; a loaded row is decrypted by the model


class BlindIndexField(fields.CharField):
    """HMAC-SHA256 of `source`'s normalised value: exact lookup without the value."""

    def __init__(self, source: str, kind: str, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("null", True)
        super().__init__(**kwargs)
        self.source = source
        self.kind = kind

    def to_db_value(self, value: Any, instance: Any) -> str | None:
        if isinstance(instance, Model):  # a write: from the source field
            value = getattr(instance, self.source)
        if value is None or value == "":
            return None
        return active_keyring().blind_index(self.kind, str(value))


class NameWordsField(fields.TextField):
    """Each word of `source` (a name) as a short blind index (`Keyring.name_words`): a search
    for one word ("Amelia") finds the name without the name being readable."""

    def __init__(self, source: str, **kwargs: Any) -> None:
        kwargs.setdefault("null", True)
        super().__init__(**kwargs)
        self.source = source

    def to_db_value(self, value: Any, instance: Any) -> str | None:
        if isinstance(instance, Model):  # a write: from the source field
            return active_keyring().name_words(getattr(instance, self.source))
        return value  # a filter's operand: a word's index already (core/services/customers.py)


def address_keys(attributes: Any) -> list[str] | None:
    """The attribute names holding a non-empty string (a plugin channel's address, per
    core/delivery/addresses.py): names only, never the values. None when there are none."""
    if not isinstance(attributes, dict):
        return None
    keys = sorted(k for k, v in attributes.items() if isinstance(v, str) and v)
    return keys or None


class AddressKeysField(fields.JSONField):
    """Which attributes hold an address, kept plain beside the encrypted attributes so SQL
    (the consent stats) can tell whether a customer is reachable on a plugin's channel."""

    def __init__(self, source: str, **kwargs: Any) -> None:
        kwargs.setdefault("null", True)
        super().__init__(**kwargs)
        self.source = source

    def to_db_value(self, value: Any, instance: Any) -> Any:
        if isinstance(instance, Model):
            value = address_keys(getattr(instance, self.source))
        return None if value is None else super().to_db_value(value, instance)


def decrypt_text(stored: str | None, table: str, column: str, row_id: object) -> str | None:
    if stored is None:
        return None
    return active_keyring().decrypt(stored, table, column, row_id).decode()


def decrypt_json(stored: str | None, table: str, column: str, row_id: object) -> Any:
    if stored is None:
        return None
    return json.loads(active_keyring().decrypt(stored, table, column, row_id))


def encrypted_fields(model: type[Model]) -> list[tuple[str, str, EncryptedTextField]]:
    """(attribute, column, field) of each encrypted field of `model`."""
    cached = model.__dict__.get("_tidings_encrypted")
    if cached is None:
        cached = [
            (name, f.source_field or name, f)
            for name, f in model._meta.fields_map.items()
            if isinstance(f, EncryptedTextField)
        ]
        model._tidings_encrypted = cached  # type: ignore[attr-defined]
    return cached


def index_fields(model: type[Model]) -> list[tuple[str, Any]]:
    """(attribute, field) of each field computed from another (blind indexes, address keys)."""
    cached = model.__dict__.get("_tidings_indexes")
    if cached is None:
        cached = [
            (name, f)
            for name, f in model._meta.fields_map.items()
            if isinstance(f, BlindIndexField | AddressKeysField)
        ]
        model._tidings_indexes = cached  # type: ignore[attr-defined]
    return cached


class EncryptedModel(Model):
    """A model with encrypted fields: decrypted on load, blind indexes kept in step."""

    class Meta:
        abstract = True

    @classmethod
    def _init_from_db(cls, **kwargs: Any) -> Any:
        self = super()._init_from_db(**kwargs)
        table = cls._meta.db_table
        keyring = None
        values = self.__dict__
        for name, column, field in encrypted_fields(cls):
            stored = values.get(name)
            if stored is None:
                continue
            if self.pk is None:
                raise KeyringError(f"{table}.{column} is loaded without the row id")
            keyring = keyring or active_keyring()
            values[name] = field.decode(keyring.decrypt(stored, table, column, self.pk))
        return self

    async def save(self, *args: Any, update_fields: Any = None, **kwargs: Any) -> None:
        if update_fields is not None:
            wanted = list(update_fields)
            for name, field in index_fields(type(self)):
                if field.source in wanted and name not in wanted:
                    wanted.append(name)
            update_fields = wanted
        await super().save(*args, update_fields=update_fields, **kwargs)
