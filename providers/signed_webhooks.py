"""The signature the built-in providers' vendors put on the feedback they post:
`X-Tidings-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, keyed with a secret the
operator sets per provider (TIDINGS_SMS_WEBHOOK_SECRET, TIDINGS_SMTP_WEBHOOK_SECRET).
Without the secret every request is refused: an open feedback route would let anyone
bounce or complain about a delivery."""

from __future__ import annotations

import hashlib
import hmac

from tidings.plugins import FeedbackRejected, FeedbackRequest, Secret

SIGNATURE_HEADER = "x-tidings-signature"
SIGNATURE_PREFIX = "sha256="


def signature(secret: str, body: bytes) -> str:
    """The header value a vendor sends for `body`."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(request: FeedbackRequest, secret: Secret | None, *, setting: str, what: str) -> None:
    """Raise FeedbackRejected unless the body is signed with the secret (constant time).
    `setting` names the secret's variable and `what` the feedback, for the admin's message."""
    if secret is None:
        raise FeedbackRejected(f"{setting} is not set: {what} feedback is refused")
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not given:
        raise FeedbackRejected(f"unsigned {what} feedback")
    expected = signature(secret.reveal(), request.body)
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise FeedbackRejected(f"badly signed {what} feedback")
