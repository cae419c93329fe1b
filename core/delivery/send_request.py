"""What a send asks for, the checks that need nothing but the request itself, and the
fingerprint that tells a retry from another request under the same idempotency key.

The checks here run before anything is looked up (the message under the key, the caller's
access, the category): an oversized key or body is a clean `UserInputError` on its field,
never a query that fails on it. The fingerprint compares the audience as a set, so a retry
that lists the same customers in another order, or one of them twice, is the same request.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from tidings.core import validation
from tidings.core.delivery.catalogue import CategoryCatalogue
from tidings.core.enums import Tier
from tidings.core.errors import UserInputError

MAX_IDEMPOTENCY_KEY = 255
MAX_LIST_AUDIENCE = 1000
MAX_TITLE = 500
MAX_BODY = 64 * 1024
MAX_HTML = 256 * 1024


@dataclass(frozen=True)
class SendRequest:
    idempotency_key: str
    category: str
    customer_ids: tuple[uuid.UUID, ...] | None = None
    tier: Tier | None = None
    channels: tuple[str, ...] | None = None
    title: str | None = None
    body: str | None = None
    html: str | None = None
    data: dict | None = None
    schedule_at: datetime | None = None

    def fingerprint(self) -> str:
        """A hash of everything but the key, with the customer ids as a set (sorted, each
        once): the same key with other input is a conflict, a reordered list is not. A tier
        send or a single customer hashes as it did before the audience became a set."""
        audience = None if self.customer_ids is None else tuple(sorted(set(self.customer_ids)))
        return replace(self, customer_ids=audience).ordered_fingerprint()

    def ordered_fingerprint(self) -> str:
        """The hash of the fields as given, customer ids in the caller's order with repeats:
        what messages recorded before the set comparison hold."""
        payload = asdict(self)
        payload.pop("idempotency_key")
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def matches(self, request_hash: str, audience: dict) -> bool:
        """Whether this request is the one recorded with `request_hash` and `audience` (the
        message's stored columns). A message recorded before the set comparison holds the
        ordered hash; the order it was given in is its stored audience, so a retry naming the
        same customers in any order is recomputed in that order and still matches."""
        if request_hash == self.fingerprint():
            return True
        stored = audience.get("customerIds")
        if self.customer_ids is None or not isinstance(stored, list):
            return False
        given = tuple(uuid.UUID(cid) for cid in stored)
        if set(given) != set(self.customer_ids):
            return False
        return replace(self, customer_ids=given).ordered_fingerprint() == request_hash


def check_request(request: SendRequest, categories: CategoryCatalogue) -> None:
    """Every check the request alone can answer, before any lookup: the key, the channels, the
    content's sizes, `data`, the list's size and `scheduleAt`. What needs the database (the
    category, a stored template, the customers) is checked after."""
    validation.text(request.idempotency_key, "idempotencyKey", MAX_IDEMPOTENCY_KEY, required=True)
    if request.channels is not None and not request.channels:
        raise UserInputError("REQUIRED", "Give at least one channel, or none.", "channels")
    for channel in request.channels or ():
        categories.check_channel(channel, "channels")
    if (request.title is None) != (request.body is None):
        raise UserInputError("REQUIRED", "Content needs a title and a body.", "content")
    if request.title is not None:
        validation.text(request.title, "content.title", MAX_TITLE, required=True)
        validation.text(request.body, "content.body", MAX_BODY, required=True)
        validation.text(request.html, "content.html", MAX_HTML)
    validation.json_object(request.data, "data", validation.MAX_ATTRIBUTES_BYTES)
    if request.customer_ids is not None:
        if not request.customer_ids:
            raise UserInputError("REQUIRED", "Name at least one customer.", "to.customerIds")
        if len(request.customer_ids) > MAX_LIST_AUDIENCE:
            raise UserInputError(
                "TOO_MANY",
                f"At most {MAX_LIST_AUDIENCE} customers; send to a tier.",
                "to.customerIds",
            )
    validation.utc_datetime(request.schedule_at, "scheduleAt")
