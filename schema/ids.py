"""Relay global IDs: base64 of "Type:uuid". Raw UUIDs are accepted on input too."""

from __future__ import annotations

import base64
import binascii
import uuid

import strawberry


def to_global_id(type_name: str, item_id: uuid.UUID | str) -> strawberry.ID:
    """`item_id`: a UUID, or its canonical text (lower case, hyphenated) as `str()` prints it."""
    return strawberry.ID(base64.b64encode(f"{type_name}:{item_id}".encode()).decode())


def from_global_id(value: str | None, type_name: str) -> uuid.UUID | None:
    """The UUID inside a global ID of `type_name`; None when it is not one (or another type's)."""
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        pass
    try:
        decoded = base64.b64decode(value.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, raw = decoded.partition(":")
    if prefix != type_name:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def decode_global_id(value: str) -> tuple[str, uuid.UUID] | None:
    """The type name and UUID inside a global ID; None for anything else (a raw UUID names
    no type, so it is None here too)."""
    try:
        decoded = base64.b64decode(value.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, raw = decoded.partition(":")
    try:
        return type_name, uuid.UUID(raw)
    except ValueError:
        return None


# An id no row has: what a malformed or foreign ID becomes, so it is NOT_FOUND like any other.
MISSING = uuid.UUID(int=0)


def parse_id(value: str | None, type_name: str) -> uuid.UUID | None:
    """None for no value; MISSING for a value that is not an ID of `type_name`."""
    if value is None:
        return None
    return from_global_id(value, type_name) or MISSING
