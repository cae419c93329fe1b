"""Keyset pagination over time-ordered ids, with opaque cursors.

`paginate` reads one page; `paginate_each` reads one page per parent (each customer's ledger,
each message's deliveries) for a whole batch of parents in one statement, so a connection
nested in a list costs one query, not one per row.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pypika_tortoise import Field, Order
from pypika_tortoise.analytics import RowNumber
from tortoise.queryset import QuerySet

from tidings.core.errors import UserInputError

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    has_next: bool
    has_previous: bool


def encode_opaque(prefix: bytes, payload: bytes) -> str:
    """A cursor: `prefix` (which kind of list it belongs to) and a fixed-size key, in base64."""
    return base64.urlsafe_b64encode(prefix + payload).decode().rstrip("=")


def decode_opaque(cursor: str, prefix: bytes, size: int, field: str = "after") -> bytes:
    """The key inside a cursor `encode_opaque(prefix, ...)` made with a key of `size` bytes;
    INVALID_CURSOR otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != len(prefix) + size or not raw.startswith(prefix):
        raise UserInputError("INVALID_CURSOR", "Not a cursor this API issued.", field)
    return raw[len(prefix) :]


def encode_cursor(item_id: uuid.UUID) -> str:
    return encode_opaque(b"c:", item_id.bytes)


def decode_cursor(cursor: str | None, field: str = "after") -> uuid.UUID | None:
    if cursor is None:
        return None
    return uuid.UUID(bytes=decode_opaque(cursor, b"c:", 16, field))


async def paginate(
    query: QuerySet, first: int, after: str | None, *, newest_first: bool = False
) -> Page:
    """One query: `first + 1` rows after the cursor, ordered by id."""
    after_id = decode_cursor(after)
    if after_id is not None:
        query = query.filter(id__lt=after_id) if newest_first else query.filter(id__gt=after_id)
    rows = await query.order_by("-id" if newest_first else "id").limit(first + 1)
    return Page(items=rows[:first], has_next=len(rows) > first, has_previous=after_id is not None)


@dataclass(frozen=True, slots=True)
class PageKey:
    """One parent's page request: a DataLoader key, so equal requests (the same connection
    under several aliases) share one page."""

    parent_id: uuid.UUID
    first: int
    after: str | None = None


RANK = "_page_rank"


async def paginate_each(
    query_for: Callable[[list[uuid.UUID]], QuerySet],
    parent_column: str,
    keys: Sequence[PageKey],
    *,
    newest_first: bool = False,
    decode: Callable[[str | None], object] = decode_cursor,
) -> list[Page | UserInputError]:
    """Pages for many parents: one statement per distinct (`first`, `after`), whatever the
    number of parents. Each page is exactly what `paginate` gives for that parent alone.

    `query_for(parent_ids)` is the rows of those parents (filtered on `parent_column`). The
    statement numbers each parent's rows after the cursor in page order with ROW_NUMBER()
    OVER (PARTITION BY parent) (SQLite 3.25+ and PostgreSQL alike) and keeps the first
    `first + 1` of each. A bad cursor is returned, not raised, so it fails only the fields
    that passed it. `decode` reads a cursor into an id (default: a UUID cursor).
    """
    groups: dict[tuple[int, str | None], list[uuid.UUID]] = {}
    for key in keys:
        groups.setdefault((key.first, key.after), []).append(key.parent_id)
    found: dict[PageKey, Page | UserInputError] = {}
    for (first, after), parent_ids in groups.items():
        try:
            after_id = decode(after)
        except UserInputError as error:
            found.update({PageKey(p, first, after): error for p in parent_ids})
            continue
        query = query_for(list(dict.fromkeys(parent_ids)))
        if after_id is not None:
            query = query.filter(id__lt=after_id) if newest_first else query.filter(id__gt=after_id)
        rows = await _first_rows_of_each(query, parent_column, first + 1, newest_first)
        by_parent: dict[uuid.UUID, list] = {p: [] for p in parent_ids}
        for row in rows:
            by_parent[getattr(row, parent_column)].append(row)
        for parent_id, items in by_parent.items():
            found[PageKey(parent_id, first, after)] = Page(
                items=items[:first], has_next=len(items) > first, has_previous=after_id is not None
            )
    return [found[key] for key in keys]


async def _first_rows_of_each(
    query: QuerySet, parent_column: str, count: int, newest_first: bool
) -> list:
    """The first `count` rows of each parent, in page order. Tortoise's query API has no
    outer query over a window, so this wraps the queryset's own (parameterised) statement and
    reads the rows through the model's executor, as the queryset itself would."""
    order = Order.desc if newest_first else Order.asc
    ranked = query.annotate(
        **{RANK: RowNumber().over(Field(parent_column)).orderby(Field("id"), order=order)}
    )
    ranked._choose_db_if_not_chosen()
    ranked._make_query()
    db = ranked._db
    outer = (
        db.query_class.from_(ranked.query)
        .select("*")
        .where(Field(RANK) <= count)
        .orderby(Field(parent_column))
        .orderby(Field("id"), order=order)
    )
    executor = db.executor_class(model=query.model, db=db)
    return await executor.execute_select(*outer.get_parameterized_sql())
