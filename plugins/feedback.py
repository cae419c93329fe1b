"""What a provider hears back, through its optional `feedback` method (issue 12).

A provider that takes receipts, bounces, complaints, engagement or replies from its vendor
implements::

    async def feedback(self, request: FeedbackRequest) -> list[Feedback]: ...

Tidings routes `POST /feedback/<provider name>` to it with the raw request, and records
what it returns. A request the provider cannot verify (a missing or bad signature) raises
`FeedbackRejected`: Tidings answers 401 and records nothing. Replays are harmless: the same
feedback twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class FeedbackKind(str, Enum):
    DELIVERED = "DELIVERED"
    BOUNCED = "BOUNCED"
    COMPLAINED = "COMPLAINED"
    OPENED = "OPENED"
    CLICKED = "CLICKED"
    REPLIED = "REPLIED"


@dataclass(frozen=True)
class FeedbackRequest:
    """The HTTP request a vendor sent, as received. Header names are lower-case."""

    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes

    def __repr__(self) -> str:  # bodies hold addresses and message text: never in logs
        return f"<FeedbackRequest {self.method} {len(self.body)} bytes>"


@dataclass(frozen=True)
class Feedback:
    """One thing heard about one delivery.

    It names the delivery by Tidings' `delivery_id` (what `OutboundMessage.delivery_id`
    carried) or by the vendor's `provider_id` (what `SendResult.provider_id` returned); a
    REPLIED feedback may name neither and give `sender` (the address or E.164 number the
    reply came from) and `text`. `permanent` tells a hard bounce from a soft one. `at`: when
    it happened (timezone-aware), default when Tidings records it. `detail`: for admins,
    never shown to customers. `feedback_id`: the vendor's own id for this piece of feedback
    (an inbound message's id, an event id), when it has one: the surest way to tell a
    vendor's retry from a new event, and the only one for a reply that names no delivery."""

    kind: FeedbackKind
    delivery_id: str | None = None
    provider_id: str | None = None
    permanent: bool = False
    at: datetime | None = None
    detail: str | None = None
    sender: str | None = None
    text: str | None = None
    feedback_id: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # the sender and the text are personal
        return f"<Feedback {self.kind.value} {self.delivery_id or self.provider_id}>"


class FeedbackRejected(Exception):
    """The request could not be verified (unsigned, badly signed, not from the vendor).
    The message is for admins; the caller gets a bare 401."""
