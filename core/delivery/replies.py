"""Replies a provider heard (a STOP, a START), handed on once: the feedback recorder's part
for REPLIED feedback with a sender, whether or not it names a delivery.

A vendor retries its webhooks, and a retried START must never undo a newer STOP (STOP,
START, STOP, then the first START again). Each reply handed on is kept as `InboundReply`, a
keyed digest (no number, no text): by the vendor's `feedback_id` when it gave one, for good;
else by sender, text and the vendor's time. A reply with neither id nor time cannot be told
from a retry: the same text from the same number within `REPLY_WINDOW` is handed on marked
`maybe_retry`, and the handler decides (a STOP acts anyway, a START does not: doubt never
resumes messaging).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from enum import Enum

from tidings.core.models.messages import InboundReply
from tidings.plugins.feedback import Feedback, FeedbackKind

# What keys reply digests: derived from the secret key (tidings.core.keys) under this label.
FEEDBACK_KEY_LABEL = b"tidings feedback digests v1"
# How long a reply the vendor gave no id for is taken as a retry of the same text from the
# same number: vendors retry within minutes; a customer's second START comes later.
REPLY_WINDOW = timedelta(minutes=10)


# What a REPLIED feedback with a sender is handed to (a STOP reply, say): the provider's name,
# the feedback, and whether it may be a retry of the same reply handed on a moment ago (no id
# or time to tell); True when it acted on the reply.
OnReply = Callable[[str, Feedback, bool], Awaitable[bool]]


class ReplyOutcome(Enum):
    IGNORED = "ignored"  # not a reply, or one nothing acted on
    ACTED = "acted"
    RETRY = "retry"  # handed on before: not again


def reply_digest(key: bytes, provider: str, item: Feedback) -> tuple[str, bool]:
    """A reply's identity for retries, keyed so the number and text cannot be read back from
    it: (digest, windowed). By the vendor's id when it gave one; else by sender, text and
    the vendor's time, windowed when there is no time either."""
    if item.feedback_id:
        parts: tuple[str, ...] = (provider, "id", item.feedback_id)
    else:
        parts = (provider, "text", item.sender or "", item.text or "", vendor_time(item))
    digest = hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()
    return digest, not item.feedback_id and item.at is None


def vendor_time(item: Feedback) -> str:
    """The time the vendor gave, as text for a fingerprint (empty when it gave none)."""
    if item.at is None:
        return ""
    at = item.at if item.at.tzinfo is not None else item.at.replace(tzinfo=UTC)
    return at.isoformat()


class ReplyHandler:
    def __init__(self, on_reply: OnReply | None, key: bytes | None = None) -> None:
        """`key`: keys the digests (default: a random one, good for this process only)."""
        self.on_reply = on_reply
        self.key = key or secrets.token_bytes(32)

    async def handle(self, provider: str, item: Feedback) -> ReplyOutcome:
        """Hand a reply on unless it is a retry of one handed on before."""
        if item.kind is not FeedbackKind.REPLIED or not item.sender or self.on_reply is None:
            return ReplyOutcome.IGNORED
        digest, windowed = reply_digest(self.key, provider, item)
        seen = InboundReply.filter(provider=provider, digest=digest)
        if windowed:
            seen = seen.filter(recorded_at__gte=datetime.now(UTC) - REPLY_WINDOW)
        maybe_retry = await seen.exists()
        if maybe_retry and not windowed:
            return ReplyOutcome.RETRY  # the vendor's id or time says so: certainly a retry
        acted = await self.on_reply(provider, item, maybe_retry)
        # Kept after acting: a crash between the two acts again on the retry, which STOP
        # and START survive (each decides under the ledger's lock and changes nothing twice).
        await InboundReply.create(provider=provider, digest=digest, windowed=windowed)
        if acted:
            return ReplyOutcome.ACTED
        return ReplyOutcome.RETRY if maybe_retry else ReplyOutcome.IGNORED
