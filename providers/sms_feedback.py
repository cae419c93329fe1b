"""What the built-in SMS provider (`http-sms`) hears back, and the opt-out hint it adds.

The vendor posts JSON to `POST /feedback/http-sms`, signed with the header
`X-Tidings-Signature: sha256=<hex HMAC-SHA256 of the raw body>` keyed with
TIDINGS_SMS_WEBHOOK_SECRET. Without that setting every request is refused.

- A receipt, `{"message_id", "status": "delivered" | "failed" | "undelivered", "error_code"}`:
  DELIVERED, or BOUNCED (`failed` is permanent, `undelivered` is not), naming the delivery by
  the id the vendor answered the send with.
- A reply, `{"from": "+E164", "text": "...", "id": "..."}`: REPLIED, with the sender and the
  text (a STOP reply withdraws the customer's marketing SMS: core/services/sms_replies.py).
  `id`, the vendor's id for the inbound message, is optional but tells a retry from a new
  reply for good; without it the same text from the same number within ten minutes is
  taken as a retry.

A body may also be a JSON list of these. Anything else raises ValueError (the route answers
400); nothing of the body is put into an error message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tidings.plugins import Feedback, FeedbackKind, FeedbackRequest, Secret
from tidings.providers.signed_webhooks import verify as verify_signature

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
MAX_ID = 255
MAX_TEXT = 1600
MAX_ERROR_CODE = 64
# Receipt statuses: the feedback kind and whether a bounce is permanent.
STATUSES = {
    "delivered": (FeedbackKind.DELIVERED, False),
    "failed": (FeedbackKind.BOUNCED, True),
    "undelivered": (FeedbackKind.BOUNCED, False),
}
# The opt-out hint a marketing SMS ends with, by language; TIDINGS_SMS_STOP_HINT overrides it.
STOP_HINTS = {"en": "Reply STOP to opt out", "zh": "回复TD退订"}
UNSUBSCRIBE_URL = "unsubscribe_url"  # Tidings puts it into marketing messages' data only


def verify(request: FeedbackRequest, secret: Secret | None) -> None:
    """Raise FeedbackRejected unless the body is signed with TIDINGS_SMS_WEBHOOK_SECRET."""
    verify_signature(request, secret, setting="TIDINGS_SMS_WEBHOOK_SECRET", what="SMS")


def parse(body: bytes) -> list[Feedback]:
    """The feedback a verified body carries; ValueError when it is not one of ours."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("SMS feedback is not JSON") from None
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise ValueError("SMS feedback is empty")
    return [_one(item) for item in items]


def _one(item: Any) -> Feedback:
    if not isinstance(item, dict):
        raise ValueError("SMS feedback is not a JSON object")
    if "message_id" in item:
        return _receipt(item)
    if "from" in item:
        return _reply(item)
    raise ValueError("SMS feedback is neither a receipt nor a reply")


def _receipt(item: Mapping[str, Any]) -> Feedback:
    message_id, status = item.get("message_id"), item.get("status")
    if (
        not isinstance(message_id, str | int)
        or not str(message_id)
        or len(str(message_id)) > MAX_ID
    ):
        raise ValueError("SMS receipt without a usable message_id")
    if not isinstance(status, str) or status.lower() not in STATUSES:
        raise ValueError("SMS receipt with an unknown status")
    kind, permanent = STATUSES[status.lower()]
    code = item.get("error_code")
    detail = None
    if kind is FeedbackKind.BOUNCED:
        detail = status.lower()
        if code not in (None, ""):
            detail = f"error_code {str(code)[:MAX_ERROR_CODE]}"
    return Feedback(kind=kind, provider_id=str(message_id), permanent=permanent, detail=detail)


def _reply(item: Mapping[str, Any]) -> Feedback:
    sender, text = item.get("from"), item.get("text", "")
    if not isinstance(sender, str) or not E164.fullmatch(sender.strip()):
        raise ValueError("SMS reply whose sender is not an E.164 number")
    if not isinstance(text, str):
        raise ValueError("SMS reply whose text is not a string")
    inbound_id = item.get("id")
    if inbound_id is not None and (
        not isinstance(inbound_id, str | int)
        or not str(inbound_id)
        or len(str(inbound_id)) > MAX_ID
    ):
        raise ValueError("SMS reply whose id is not a usable string")
    return Feedback(
        kind=FeedbackKind.REPLIED,
        sender=sender.strip(),
        text=text[:MAX_TEXT],
        feedback_id=None if inbound_id is None else str(inbound_id),
    )


def stop_hint(locale: str, override: str | None = None) -> str:
    """The opt-out hint in the message's language (English unless it is Chinese)."""
    if override:
        return override
    language = locale.replace("_", "-").split("-")[0].lower()
    return STOP_HINTS.get(language, STOP_HINTS["en"])


def with_stop_hint(
    text: str, data: Mapping[str, Any], locale: str, override: str | None = None
) -> str:
    """A marketing SMS (its data carries an unsubscribe link) ends with the hint; others as is."""
    if not data.get(UNSUBSCRIBE_URL):
        return text
    hint = stop_hint(locale, override)
    if text.rstrip().endswith(hint):
        return text
    return f"{text}\n{hint}" if text else hint
