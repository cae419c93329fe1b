"""Keyset pagination over time-ordered ids, with opaque cursors."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from tortoise.queryset import QuerySet

from tidings.core.errors import UserInputError

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    has_next: bool
    has_previous: bool


def encode_cursor(item_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(b"c:" + item_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None, field: str = "after") -> uuid.UUID | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 18 or not raw.startswith(b"c:"):
        raise UserInputError("INVALID_CURSOR", "Not a cursor this API issued.", field)
    return uuid.UUID(bytes=raw[2:])


async def paginate(
    query: QuerySet, first: int, after: str | None, *, newest_first: bool = False
) -> Page:
    """One query: `first + 1` rows after the cursor, ordered by id."""
    after_id = decode_cursor(after)
    if after_id is not None:
        query = query.filter(id__lt=after_id) if newest_first else query.filter(id__gt=after_id)
    rows = await query.order_by("-id" if newest_first else "id").limit(first + 1)
    return Page(items=rows[:first], has_next=len(rows) > first, has_previous=after_id is not None)
