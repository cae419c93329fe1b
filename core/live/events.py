"""What travels on the live bus: small JSON-safe events, each addressed to one topic.

A topic names who may receive the event: `customer:<id>` (a customer's notifications and
inbox changes, and its revocations), `message:<id>` (a message's delivery changes),
`staff:<id>` and `api_key:<id>` (revocations). Subscriptions listen on topics; the bus never
decides who may read what, the subscription re-checks its caller for every event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

NOTIFICATION = "notification"
INBOX = "inbox"
DELIVERY = "delivery"
REVOKED = "revoked"
# Made locally, never published: events may have been missed (the bus lost Redis, or a
# subscriber fell behind); subscriptions catch up from the database.
RESYNC = "resync"


def customer_topic(customer_id: uuid.UUID | str) -> str:
    return f"customer:{customer_id}"


def message_topic(message_id: uuid.UUID | str) -> str:
    return f"message:{message_id}"


def viewer_topic(kind: str, viewer_id: uuid.UUID | str) -> str:
    """`kind` is a `ViewerKind` value: staff, customer or api_key."""
    return f"{kind}:{viewer_id}"


@dataclass(slots=True, eq=False)
class LiveEvent:
    topic: str
    kind: str
    data: dict[str, Any]
    # Per process, never sent: each GraphQL frame built from this event, keyed by what
    # makes frames differ (document, variables, what the caller may see), so a payload
    # that is the same for several subscribers is serialised once.
    frames: dict[Hashable, str] = field(default_factory=dict, repr=False)
    # Per process, never sent: the audit log's personal data reads a frame under the same key
    # carries (audit `AuditEvent`s with no actor), recorded again for each subscriber it is
    # sent to without executing.
    reads: dict[Hashable, list[Any]] = field(default_factory=dict, repr=False)

    def wire(self) -> list[Any]:
        return [self.topic, self.kind, self.data]


def encode(events: Sequence[LiveEvent]) -> str:
    """One bus message for a batch of events: serialised once, whatever the subscribers."""
    return json.dumps([e.wire() for e in events], separators=(",", ":"), default=str)


def decode(payload: str | bytes) -> list[LiveEvent]:
    """The inverse of `encode`. Raises ValueError on anything else."""
    try:
        items = json.loads(payload)
    except RecursionError:  # nested deeper than the interpreter's stack: not ours either
        raise ValueError("a live bus message nested too deeply") from None
    if not isinstance(items, list):
        raise ValueError("a live bus message is a JSON list")
    events = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[2], dict)):
            raise ValueError("a live event is [topic, kind, data]")
        events.append(LiveEvent(str(item[0]), str(item[1]), item[2]))
    return events


RESYNC_EVENT_TOPIC = "*"


def resync_event() -> LiveEvent:
    return LiveEvent(RESYNC_EVENT_TOPIC, RESYNC, {})
