"""The chain's hash: SHA-256 over a canonical encoding of an entry and its predecessor's hash.

Canonical: JSON with sorted keys, no whitespace, UTF-8, times as ISO 8601 in UTC with
microseconds, ids as lower-case strings. Every stored column but `hash` itself is covered, so
changing any of them, removing an entry or swapping two breaks the chain at that entry.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

# The predecessor of the first entry ever written.
GENESIS = "0" * 64
# The stored columns an entry's hash covers: all of them but `hash` itself, in table order.
HASHED_COLUMNS = (
    "id",
    "at",
    "action",
    "actor_kind",
    "actor_id",
    "customer_id",
    "targets",
    "detail",
    "request_id",
    "ip",
    "prev_hash",
)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _id(value: uuid.UUID | str | None) -> str | None:
    return None if value is None else str(value).lower()


def canonical(
    *,
    id: int,
    at: datetime,
    action: str,
    actor_kind: str,
    actor_id: uuid.UUID | str | None,
    customer_id: uuid.UUID | str | None,
    targets: dict[str, Any],
    detail: dict[str, Any],
    request_id: str | None,
    ip: str | None,
    prev_hash: str,
) -> bytes:
    document = {
        "id": id,
        "at": _iso(at),
        "action": action,
        "actor_kind": actor_kind,
        "actor_id": _id(actor_id),
        "customer_id": _id(customer_id),
        "targets": targets,
        "detail": detail,
        "request_id": request_id,
        "ip": ip,
        "prev_hash": prev_hash,
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def entry_hash(**columns: Any) -> str:
    """The hash of an entry given its columns (everything but `hash`)."""
    return hashlib.sha256(canonical(**columns)).hexdigest()
