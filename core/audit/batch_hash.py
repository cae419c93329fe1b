"""`chain.canonical` for a batch of entries, byte for byte, encoding each shared value once.

A page's 100 `customer.read` entries share their time, action, actor, request, address and
detail; only the id, customer and predecessor differ. JSON with sorted keys and no whitespace
is the concatenation of its members, each encoded alone with the same options, so the
document is built from cached pieces (tests/audit/test_batch_hash.py holds it to `canonical`).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import datetime
from typing import Any

from tidings.core.audit.chain import _id, _iso

# The members below are written in chain.canonical's keys' sorted order: action, actor_id,
# actor_kind, at, customer_id, detail, id, ip, prev_hash, request_id, targets.


_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class BatchHasher:
    """Hashes entries as `chain.entry_hash` does. Objects (dicts) are cached by identity, so
    keep them alive and unchanged while the batch is hashed."""

    def __init__(self) -> None:
        self._objects: dict[int, str] = {}
        self._scalars: dict[Any, str] = {}
        # The members before `customer_id` (action, actor, time), shared by a whole batch.
        self._heads: dict[tuple, str] = {}

    def _object(self, value: dict[str, Any]) -> str:
        if not value:
            return "{}"  # each event's own empty `targets`: no cache entry per event
        key = id(value)
        found = self._objects.get(key)
        if found is None:
            found = self._objects[key] = _dumps(value)
        return found

    def _scalar(self, value: Any) -> str:
        key = (type(value), value)
        found = self._scalars.get(key)
        if found is None:
            found = self._scalars[key] = _dumps(value)
        return found

    def parts(
        self,
        *,
        at: datetime,
        action: str,
        actor_kind: str,
        actor_id: uuid.UUID | str | None,
        customer_id: uuid.UUID | str | None,
        targets: dict[str, Any],
        detail: dict[str, Any],
        request_id: str | None,
        ip: str | None,
    ) -> tuple[str, str, str]:
        """The document around the two members known only under the chain's lock (`id` and
        `prev_hash`): made before taking it, so the lock is held for the hashing alone."""
        shared = (action, actor_id, actor_kind, at)
        start = self._heads.get(shared)
        if start is None:
            start = self._heads[shared] = (
                '{"action":' + self._scalar(action)
                + ',"actor_id":' + self._scalar(_id(actor_id))
                + ',"actor_kind":' + self._scalar(actor_kind)
                + ',"at":' + self._scalar(_iso(at))
                + ',"customer_id":'
            )  # fmt: skip
        head = (
            start + self._scalar(_id(customer_id)) + ',"detail":' + self._object(detail) + ',"id":'
        )
        middle = ',"ip":' + self._scalar(ip) + ',"prev_hash":'
        tail = ',"request_id":' + self._scalar(request_id) + ',"targets":' + self._object(targets)
        return head, middle, tail + "}"

    @staticmethod
    def chained(parts: tuple[str, str, str], id: int, prev_hash: str) -> str:
        """The entry's hash once its id and predecessor are known."""
        head, middle, tail = parts
        # Under the chain's lock: a hex digest (every hash the chain writes) needs no encoder.
        quoted = f'"{prev_hash}"' if _HEX_DIGEST.fullmatch(prev_hash) else _dumps(prev_hash)
        document = head + str(id) + middle + quoted + tail
        return hashlib.sha256(document.encode()).hexdigest()

    def entry_hash(self, *, id: int, prev_hash: str, **columns: Any) -> str:
        """As `chain.entry_hash`."""
        return self.chained(self.parts(**columns), id, prev_hash)
