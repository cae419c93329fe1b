"""What comes back to the built-in email provider (`smtp`): bounces and complaints, read from
the raw RFC 5322 message with the standard library's `email` package. Pure: no I/O.

- **Bounces** are RFC 3464 delivery status notifications, `multipart/report;
  report-type=delivery-status`. Each per-recipient block is one feedback: `Action: failed`
  is BOUNCED, permanent when its `Status` is 5.x.x and soft when 4.x.x; `Action: delivered`
  (a success notice) is DELIVERED; `delayed` (the MTA is still trying, and will report the
  end), `relayed` and `expanded` say nothing final of the mailbox and are skipped. A delay
  counted as a soft bounce would let one slow message's warnings, hours apart, add up to
  a suppression.
- **Complaints** are RFC 5965 (ARF) feedback reports, `multipart/report;
  report-type=feedback-report`: `Feedback-Type: abuse`, `fraud`, `virus` or `other` is
  COMPLAINED; `not-spam` and `auth-failure` (RFC 6591) are not complaints and say nothing.

**Matching.** With TIDINGS_BOUNCE_ADDRESS (`bounces@shop.example`) each mail goes out with
the envelope sender `bounces+<delivery id>@shop.example` (VERP), so the report comes back
to an address that names the delivery: the envelope recipient inbound-smtp received it
for, the report's `Delivered-To`, `X-Original-To`, `Envelope-To` or `To`, an ARF's
`Original-Mail-From`, or the original's `Return-Path`. Every report also carries the
original message's headers, whose `Message-ID` is what the provider answered the send with
(`SendResult.provider_id`); that matches when no tag does. A report naming neither, or a
delivery that is not ours, is counted as unmatched by the recorder and changes nothing.

Anything that is not such a report raises ValueError with a fixed message: nothing of the
message (addresses, text) is ever put into an error, and the details kept for admins have
every address masked.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message

from tidings.plugins import Feedback, FeedbackKind

_BOUNCE_ADDRESS = re.compile(r"^([A-Za-z0-9._%+-]{1,64})@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)$")
_TAG = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_STATUS = re.compile(r"^([245])\.\d{1,3}\.\d{1,3}$")
_MESSAGE_ID = re.compile(r"^<[^<>\s]{1,250}>$")
_ANY_ADDRESS = re.compile(r"[^\s<>()\[\];,:\"']+@[^\s<>()\[\];,:\"']+")
MAX_DETAIL = 300
# Where a report may name the address it came back to, in the order they are tried.
RETURN_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To")
COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus", "other"})
NOT_COMPLAINTS = frozenset({"not-spam", "auth-failure"})
BOUNCE_ACTIONS = frozenset({"failed"})
SILENT_ACTIONS = frozenset({"delayed", "relayed", "expanded"})


@dataclass(frozen=True)
class BounceAddress:
    """TIDINGS_BOUNCE_ADDRESS: the base of every VERP envelope sender. A local part with a
    `+` of its own (`bounces+shop@...`) works: the tag follows it after one more `+`."""

    local: str
    domain: str

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}"

    def verp(self, delivery_id: str) -> str:
        """The envelope sender for a delivery; the base address when the id cannot be a tag."""
        if not _TAG.match(delivery_id):
            return str(self)
        return f"{self.local}+{delivery_id}@{self.domain}"

    def tag(self, address: str) -> str | None:
        """The delivery id an address carries, when it is one of ours; else None."""
        local, at, domain = address.strip().strip("<>").rpartition("@")
        if not at or domain.lower() != self.domain.lower():
            return None
        prefix = f"{self.local}+"
        if not local.lower().startswith(prefix.lower()):
            return None
        tag = local[len(prefix) :]
        return tag if _TAG.match(tag) else None

    def accepts(self, address: str) -> bool:
        """The base address itself, or a tagged one (what inbound-smtp takes mail for)."""
        return address.strip().strip("<>").lower() == str(self).lower() or bool(self.tag(address))


def parse_bounce_address(value: str | None) -> BounceAddress | None:
    """TIDINGS_BOUNCE_ADDRESS parsed; None when unset; ValueError when not a plain address."""
    value = (value or "").strip()
    if not value:
        return None
    match = _BOUNCE_ADDRESS.match(value)
    if match is None:
        raise ValueError("TIDINGS_BOUNCE_ADDRESS must be an address, e.g. bounces@shop.example")
    return BounceAddress(match.group(1), match.group(2))


def parse_report(
    raw: bytes, *, bounce: BounceAddress | None = None, recipients: Sequence[str] = ()
) -> list[Feedback]:
    """The feedback a bounce or complaint carries; ValueError when the message is neither.
    `recipients`: the envelope recipients it was received for, when known (inbound-smtp)."""
    if not raw.strip():
        raise ValueError("the message is empty")
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        return _read(message, bounce, recipients)
    except ValueError:
        raise
    except (LookupError, TypeError, AttributeError, UnicodeError, AssertionError):
        raise ValueError("the message cannot be read as a report") from None


def _read(
    message: Message, bounce: BounceAddress | None, recipients: Sequence[str]
) -> list[Feedback]:
    if message.get_content_type() != "multipart/report":
        raise ValueError("not a multipart/report message")
    report_type = str(message.get_param("report-type") or "").strip().lower()
    if report_type == "delivery-status":
        return _bounces(message, bounce, recipients)
    if report_type == "feedback-report":
        return _complaint(message, bounce, recipients)
    raise ValueError("a report that is neither a delivery status nor a feedback report")


def _bounces(
    message: Message, bounce: BounceAddress | None, recipients: Sequence[str]
) -> list[Feedback]:
    blocks = _fields_part(message, "message/delivery-status")
    if len(blocks) < 2:
        raise ValueError("a delivery status without a per-recipient block")
    per_message, per_recipient = blocks[0], blocks[1:]
    delivery_id = _tagged(bounce, [*recipients, *_header_addresses(message, RETURN_HEADERS)])
    provider_id = _original_message_id(message)
    items: list[Feedback] = []
    for block in per_recipient:
        action = _field(block, "Action").lower()
        status = _field(block, "Status").split()[0] if _field(block, "Status") else ""
        match = _STATUS.match(status)
        if not action or match is None:
            raise ValueError("a per-recipient block without a valid Action and Status")
        if action in SILENT_ACTIONS:
            continue
        if action in BOUNCE_ACTIONS:
            kind, permanent = FeedbackKind.BOUNCED, match.group(1) == "5"
        elif action == "delivered":
            kind, permanent = FeedbackKind.DELIVERED, False
        else:
            raise ValueError("a per-recipient block with an unknown Action")
        diagnostic = _field(block, "Diagnostic-Code")
        detail = f"{status} {action}" + (f": {_without_type(diagnostic)}" if diagnostic else "")
        at = _date(_field(block, "Last-Attempt-Date")) or _date(_field(per_message, "Arrival-Date"))
        items.append(
            Feedback(
                kind=kind,
                delivery_id=delivery_id,
                provider_id=provider_id,
                permanent=permanent,
                at=at or _date(message.get("Date")),
                detail=_masked(detail),
            )
        )
    return items


def _complaint(
    message: Message, bounce: BounceAddress | None, recipients: Sequence[str]
) -> list[Feedback]:
    blocks = _fields_part(message, "message/feedback-report")
    if not blocks:
        raise ValueError("a feedback report without its fields")
    fields = blocks[0]
    feedback_type = _field(fields, "Feedback-Type").lower()
    if not feedback_type:
        raise ValueError("a feedback report without a Feedback-Type")
    if feedback_type in NOT_COMPLAINTS or feedback_type not in COMPLAINT_TYPES:
        return []
    original = _original_headers(message)
    candidates = [
        *recipients,
        *_header_addresses(message, RETURN_HEADERS),
        *_header_addresses(fields, ("Original-Mail-From",)),
        *(_header_addresses(original, ("Return-Path",)) if original is not None else []),
    ]
    at = _date(_field(fields, "Arrival-Date")) or _date(_field(fields, "Received-Date"))
    return [
        Feedback(
            kind=FeedbackKind.COMPLAINED,
            delivery_id=_tagged(bounce, candidates),
            provider_id=_original_message_id(message),
            at=at or _date(message.get("Date")),
            detail=f"feedback-type {feedback_type[:40]}",
        )
    ]


def _fields_part(message: Message, content_type: str) -> list[Message]:
    """The blocks of header fields in the report's part of `content_type` (the parser reads
    message/delivery-status as a list of blocks, and other message/* as one message)."""
    for part in message.walk():
        if part.get_content_type() == content_type:
            payload = part.get_payload()
            if isinstance(payload, list):
                return [block for block in payload if isinstance(block, Message)]
            if isinstance(payload, str):  # a single block given as text
                return [email.message_from_string(payload.lstrip(), policy=email.policy.compat32)]
            return []
    raise ValueError("a report without its machine-readable part")


def _original_headers(message: Message) -> Message | None:
    """The original message's headers: a message/rfc822 part, or text/rfc822-headers."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        elif kind == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                return email.message_from_bytes(text.lstrip(), policy=email.policy.compat32)
    return None


def _original_message_id(message: Message) -> str | None:
    original = _original_headers(message)
    if original is None:
        return None
    value = " ".join(str(original.get("Message-ID") or "").split())
    return value if _MESSAGE_ID.match(value) else None


def _tagged(bounce: BounceAddress | None, candidates: Iterable[str]) -> str | None:
    """The delivery id of the first candidate address that carries one."""
    if bounce is None:
        return None
    for address in candidates:
        tag = bounce.tag(address)
        if tag is not None:
            return tag
    return None


def _header_addresses(message: Message, names: Sequence[str]) -> list[str]:
    values = [str(v) for name in names for v in (message.get_all(name) or [])]
    return [address for _, address in email.utils.getaddresses(values) if address]


def _field(block: Message, name: str) -> str:
    return " ".join(str(block.get(name) or "").split())


def _without_type(value: str) -> str:
    """`smtp; 550 5.1.1 ...` without its type label."""
    label, semicolon, rest = value.partition(";")
    return rest.strip() if semicolon and " " not in label.strip() else value


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _masked(text: str) -> str:
    """For admins: every address masked, length capped."""
    text = _ANY_ADDRESS.sub("***", " ".join(text.split()))
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"
