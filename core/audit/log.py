"""Appending to the chain: one lock, one read of the last entry, one multi-row INSERT.

The lock (a PostgreSQL transaction-scoped advisory lock; SQLite has one writer at a time)
makes the ids gapless and the chain a single line. Called inside a caller's transaction, the
entries commit or roll back with what they record, and the lock is held until then: keep
such transactions short.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from tidings.core.audit.batch_hash import BatchHasher
from tidings.core.audit.chain import GENESIS, HASHED_COLUMNS
from tidings.core.audit.context import current_request
from tidings.core.models import AuditEntry

AUDIT_LOCK = 7_301_400  # pg_advisory_xact_lock key: "tidings audit append"

_COLUMNS = (*HASHED_COLUMNS, "hash")


_FIELDS = AuditEntry._meta.fields_map


@dataclass(frozen=True)
class AuditEvent:
    """One entry to append. `actor`: "staff:<id>", "api_key:<id>", "customer:<id>" or
    "system"; None takes the current request's actor (or "system" outside a request).
    `targets` holds ids; `detail` what happened, never a personal data value."""

    action: str
    actor: str | None = None
    customer_id: uuid.UUID | None = None
    targets: dict[str, str] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


def _uuid_db(value: uuid.UUID | None) -> str | None:
    """As tortoise's UUIDField stores it."""
    return None if value is None else str(value)


def _split_actor(actor: str) -> tuple[str, uuid.UUID | None]:
    kind, _, raw = actor.partition(":")
    return kind, (uuid.UUID(raw) if raw else None)


async def record(
    action: str,
    *,
    actor: str | None = None,
    customer_id: uuid.UUID | None = None,
    targets: dict[str, str] | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry (see `AuditEvent`)."""
    await record_many(
        [AuditEvent(action, actor, customer_id, dict(targets or {}), dict(detail or {}))]
    )


async def record_many(events: Sequence[AuditEvent]) -> None:
    """Append `events`, in order, in one statement."""
    if not events:
        return
    request = current_request()
    request_id = request.request_id if request else None
    ip = request.ip if request else None
    default_actor = (request.actor if request else None) or "system"
    at = datetime.now(UTC)
    postgres = connections.get("default").capabilities.dialect == "postgres"
    # Everything but the ids and hashes is prepared before the chain's lock is taken, so the
    # lock is held for the tail's read, the hashing and the INSERT alone. Values shared by a
    # batch (the time, the actor, a page's one `detail` object) are converted once.
    at_db = _FIELDS["at"].to_db_value(at, AuditEntry)
    actors: dict[str, tuple[str, uuid.UUID | None, str | None]] = {}
    documents: dict[int, str | None] = {}
    hasher = BatchHasher()

    empty = _FIELDS["targets"].to_db_value({}, AuditEntry)

    def json_db(value: dict[str, Any]) -> str | None:
        if not value:
            return empty  # most events' own empty `targets`
        key = id(value)
        if key not in documents:
            documents[key] = _FIELDS["detail"].to_db_value(value, AuditEntry)
        return documents[key]

    prepared = []
    for event in events:
        ref = event.actor or default_actor
        if ref not in actors:
            kind, actor_uuid = _split_actor(ref)
            actors[ref] = (kind, actor_uuid, _uuid_db(actor_uuid))
        kind, actor_id, actor_db = actors[ref]
        parts = hasher.parts(
            at=at,
            action=event.action,
            actor_kind=kind,
            actor_id=actor_id,
            customer_id=event.customer_id,
            targets=event.targets,
            detail=event.detail,
            request_id=request_id,
            ip=ip,
        )
        row = (
            at_db,
            event.action,
            kind,
            actor_db,
            _uuid_db(event.customer_id),
            json_db(event.targets),
            json_db(event.detail),
            request_id,
            ip,
        )
        prepared.append((parts, row))

    def chain(last_id: int, prev: str) -> tuple[list[Any], tuple[int, str]]:
        values: list[Any] = []
        chained = hasher.chained
        for entry_id, (parts, row) in enumerate(prepared, start=last_id + 1):
            entry_hash = chained(parts, entry_id, prev)
            values.append(entry_id)
            values.extend(row)
            values.append(prev)
            values.append(entry_hash)
            prev = entry_hash
        return values, (last_id + len(prepared), prev)

    async with in_transaction() as conn:
        if postgres:
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [AUDIT_LOCK])
            guess = _TAIL.guess
            if guess is not None:
                # The tail this process last wrote is most likely still the tail: append on
                # that guess, in a statement that checks it (under the lock, so it is exact).
                values, tail = chain(*guess)
                appended = await conn.execute_insert(
                    _guarded_statement(len(events)), [*values, *guess]
                )
                if appended is not None:
                    _TAIL.guess = tail
                    return
        _, rows = await conn.execute_query(
            "SELECT id, hash FROM audit_entries ORDER BY id DESC LIMIT 1"
        )
        values, tail = chain(*((int(rows[0][0]), rows[0][1]) if rows else (0, GENESIS)))
        await conn.execute_query(_insert_statement(postgres, len(events)), values)
        _TAIL.guess = tail


class _TailGuess:
    """The chain's tail (last id, its hash) as this process last appended it: a guess, never
    trusted. With one process appending, it is right every time and the append skips its read
    of the tail (one round trip fewer while the chain's lock is held). Another process's
    entries or a rolled-back append make it wrong, the guarded INSERT writes nothing, and the
    tail is read as before."""

    def __init__(self) -> None:
        self.guess: tuple[int, str] | None = None


_TAIL = _TailGuess()


def chain_emptied() -> None:
    """The audit log was emptied under this process (a test database, truncated between
    tests): the next append guesses the genesis, checked under the lock like any guess."""
    _TAIL.guess = (0, GENESIS)


# PostgreSQL's type of each column, for the guarded INSERT's VALUES (which, unlike a plain
# INSERT's, take no type from the target columns).
_PG_TYPES = (
    "bigint", "timestamptz", "text", "text", "uuid", "uuid", "jsonb", "jsonb", "text", "text",
    "text", "text",
)  # fmt: skip


@functools.lru_cache(maxsize=32)
def _guarded_statement(rows: int) -> str:
    """Append `rows` entries only if the entry named by the last two parameters (id, hash) is
    the chain's tail, or (id 0) the log is empty; it returns the ids appended (none: the guess
    was wrong)."""
    width = len(_COLUMNS)
    groups = ", ".join(
        "(" + ", ".join(f"${i * width + j + 1}::{_PG_TYPES[j]}" for j in range(width)) + ")"
        for i in range(rows)
    )
    last, last_hash = rows * width + 1, rows * width + 2
    # Only placeholders, types and fixed column names are interpolated.
    return (
        f"INSERT INTO audit_entries ({', '.join(_COLUMNS)})"  # noqa: S608
        f" SELECT * FROM (VALUES {groups}) AS v"
        f" WHERE (${last} = 0"
        f" OR EXISTS (SELECT 1 FROM audit_entries WHERE id = ${last} AND hash = ${last_hash}))"
        f" AND NOT EXISTS (SELECT 1 FROM audit_entries WHERE id > ${last}) RETURNING id"
    )


@functools.lru_cache(maxsize=32)
def _insert_statement(postgres: bool, rows: int) -> str:
    width = len(_COLUMNS)
    if postgres:
        groups = (
            "(" + ", ".join(f"${i * width + j + 1}" for j in range(width)) + ")"
            for i in range(rows)
        )
    else:
        groups = ("(" + ", ".join("?" * width) + ")" for _ in range(rows))
    # Only placeholders and fixed column names are interpolated.
    return f"INSERT INTO audit_entries ({', '.join(_COLUMNS)}) VALUES {', '.join(groups)}"  # noqa: S608
