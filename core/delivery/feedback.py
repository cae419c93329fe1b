"""Recording what providers hear back (issue 12, first part): receipts and engagement.

`POST /feedback/<provider>` hands the vendor's request to the provider's `feedback` method;
what it returns is recorded here. Each feedback names a delivery of that provider, by our
delivery id or by the vendor's id (`SendResult.provider_id`); one that names no delivery of
the provider is counted as unmatched and changes nothing, so a provider can never touch
another's deliveries.

Every feedback is kept as a `DeliveryEvent`, in order. Its fingerprint (delivery, kind,
time, permanence, detail) is unique, so a replay records nothing and changes nothing. What
it changes:

- Statuses only move forward, along `STATUS_RANK`: SENT < DELIVERED < BOUNCED < COMPLAINED.
  DELIVERED, BOUNCED and COMPLAINED feedback moves a delivery to that status when it ranks
  higher than where the delivery stands, so a late receipt never undoes a bounce and a
  complaint follows either. QUEUED, DEFERRED, SUPPRESSED and FAILED rows have no rank: the
  feedback is kept as an event and moves nothing (the worker settles them, or they never
  went). `delivered_at` is the first receipt's time, whatever the status.
- COMPLAINED: handed to `on_complaint`, inside the same transaction (it withdraws the
  customer's marketing grants on the channel: core/services/complaints.py).
- BOUNCED: handed to `on_bounce`, inside the same transaction (a hard bounce, or soft ones
  over 72 hours, suppress the address: core/services/bounces.py). A replay is never handed
  on, so it never counts twice.
- OPENED, CLICKED: `opened_at`, `clicked_at`, the first time of each. Engagement Tidings
  sees itself (pixel, tracked links, markRead, recordEngagement) goes through
  `record_engagement` instead (core/delivery/engagement.py).
- REPLIED with a `sender`: handed to `on_reply` (a STOP reply withdraws SMS marketing),
  whether or not it names a delivery, unless it is a vendor's retry of a reply already
  handed on (`InboundReply`, by the vendor's `feedback_id`, else by sender, text and the
  vendor's time). A reply with neither id nor time cannot be told from a retry: the same
  text from the same number within `REPLY_WINDOW` is handed on marked `maybe_retry`, and
  the handler decides (a STOP acts anyway, a START does not: doubt never resumes
  messaging). Otherwise a retried START could undo a newer STOP.
- Every newly recorded feedback is handed to `on_recorded` inside its transaction, with the
  delivery as it now stands and whether its status moved (the outbound webhooks' ENGAGEMENT
  and DELIVERY_STATUS events are written there, so they commit with the feedback).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tidings.core.delivery import engagement
from tidings.core.delivery.pipeline import OnChange
from tidings.core.enums import DeliveryStatus
from tidings.core.models.messages import Delivery, DeliveryEvent, InboundReply
from tidings.plugins.feedback import Feedback, FeedbackKind

MAX_DETAIL = 500
# What keys reply digests: derived from the secret key (tidings.core.keys) under this label.
FEEDBACK_KEY_LABEL = b"tidings feedback digests v1"
# How long a reply the vendor gave no id for is taken as a retry of the same text from the
# same number: vendors retry within minutes; a customer's second START comes later.
REPLY_WINDOW = timedelta(minutes=10)
# The way forward: feedback moves a delivery only to a status of higher rank, and never one
# that has none (QUEUED, DEFERRED, SUPPRESSED, FAILED).
STATUS_RANK: dict[DeliveryStatus, int] = {
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.BOUNCED: 3,
    DeliveryStatus.COMPLAINED: 4,
}
# The status each kind of feedback moves toward.
FEEDBACK_STATUS = {
    FeedbackKind.DELIVERED: DeliveryStatus.DELIVERED,
    FeedbackKind.BOUNCED: DeliveryStatus.BOUNCED,
    FeedbackKind.COMPLAINED: DeliveryStatus.COMPLAINED,
}
# The first time of each kind that has a column of its own.
FIRST_TIMES = {
    FeedbackKind.DELIVERED: "delivered_at",
    FeedbackKind.OPENED: "opened_at",
    FeedbackKind.CLICKED: "clicked_at",
}


class ReplyOutcome(Enum):
    IGNORED = "ignored"  # not a reply, or one nothing acted on
    ACTED = "acted"
    RETRY = "retry"  # handed on before: not again


@dataclass
class FeedbackResult:
    """What one request's feedback did: recorded anew, replays, naming no delivery."""

    recorded: int = 0
    duplicates: int = 0
    unmatched: int = 0


def fingerprint(delivery_id: uuid.UUID, item: Feedback) -> str:
    """The feedback's identity for replays. The time is the vendor's when it gave one; when it
    gave none (an SMS receipt) it is left out, not the time of arrival, so a replay matches."""
    parts = (str(delivery_id), item.kind.value, _when(item), str(item.permanent), item.detail)
    if item.feedback_id:  # two events alike but for the vendor's id are two events
        parts = (*parts, item.feedback_id)
    return hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()


def reply_digest(key: bytes, provider: str, item: Feedback) -> tuple[str, bool]:
    """A reply's identity for retries, keyed so the number and text cannot be read back from
    it: (digest, windowed). By the vendor's id when it gave one; else by sender, text and
    the vendor's time, windowed when there is no time either."""
    if item.feedback_id:
        parts: tuple[str, ...] = (provider, "id", item.feedback_id)
    else:
        parts = (provider, "text", item.sender or "", item.text or "", _when(item))
    digest = hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()
    return digest, not item.feedback_id and item.at is None


def _when(item: Feedback) -> str:
    return _aware(item.at).isoformat() if item.at is not None else ""  # type: ignore[union-attr]


# What a REPLIED feedback with a sender is handed to (a STOP reply, say): the provider's name,
# the feedback, and whether it may be a retry of the same reply handed on a moment ago (no id
# or time to tell); True when it acted on the reply.
OnReply = Callable[[str, Feedback, bool], Awaitable[bool]]
# What a newly recorded COMPLAINED feedback is handed to, inside its transaction: the
# provider's name, the delivery and when it happened.
OnComplaint = Callable[[str, Delivery, datetime], Awaitable[object]]
# What a newly recorded BOUNCED feedback is handed to, inside its transaction: the provider's
# name, the delivery, whether the bounce is permanent (hard) and when it happened.
OnBounce = Callable[[str, Delivery, bool, datetime], Awaitable[object]]
# What every newly recorded feedback is handed to, inside its transaction: the delivery as it
# now stands, the kind's value, when it happened, and whether the status moved.
OnRecorded = Callable[[Delivery, str, datetime, bool], Awaitable[object]]


def next_status(current: DeliveryStatus, kind: FeedbackKind) -> DeliveryStatus | None:
    """Where a feedback moves a delivery now at `current`: None when it moves nothing."""
    target = FEEDBACK_STATUS.get(kind)
    rank = STATUS_RANK.get(current)
    if target is None or rank is None or STATUS_RANK[target] <= rank:
        return None
    return target


class FeedbackRecorder:
    def __init__(
        self,
        on_change: OnChange | None = None,
        on_reply: OnReply | None = None,
        on_complaint: OnComplaint | None = None,
        key: bytes | None = None,
        on_bounce: OnBounce | None = None,
        on_recorded: OnRecorded | None = None,
    ) -> None:
        """`key`: keys reply digests (default: a random one, good for this process only)."""
        self.on_change = on_change
        self.on_reply = on_reply
        self.on_complaint = on_complaint
        self.key = key or secrets.token_bytes(32)
        self.on_bounce = on_bounce
        self.on_recorded = on_recorded

    async def record(self, provider: str, items: Sequence[Feedback]) -> FeedbackResult:
        result = FeedbackResult()
        found = await self._deliveries(provider, items)
        changed: dict[uuid.UUID, Delivery] = {}
        now = datetime.now(UTC)
        for item, delivery in zip(items, found, strict=True):
            reply = await self._reply(provider, item)
            if delivery is None:
                if reply is ReplyOutcome.ACTED:
                    result.recorded += 1
                elif reply is ReplyOutcome.RETRY:
                    result.duplicates += 1
                else:
                    result.unmatched += 1
                continue
            at = _aware(item.at) or now
            if await self._record_one(provider, delivery, item, at):
                result.recorded += 1
                changed[delivery.id] = delivery
            else:
                result.duplicates += 1
        if self.on_change is not None:
            rows = [row for row in changed.values() if row.channel != "in_app"]
            if rows:
                await self.on_change(rows)
        return result

    async def _reply(self, provider: str, item: Feedback) -> ReplyOutcome:
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

    async def record_engagement(
        self,
        delivery_id: uuid.UUID,
        kind: FeedbackKind,
        at: datetime | None = None,
        detail: str = "",
        *,
        source: str = engagement.TRACKING,
    ) -> bool | None:
        """An open or a click that names our delivery directly (engagement.py says what is
        kept): None when there is no such delivery, else whether it was new."""
        delivery = await Delivery.filter(id=delivery_id).first()
        if delivery is None:
            return None
        when = _aware(at) or datetime.now(UTC)
        async with in_transaction():  # the webhook event commits with the engagement
            new, fields = await engagement.record_engagement(delivery, kind, when, source, detail)
            if new and self.on_recorded is not None:
                await self.on_recorded(delivery, kind.value, when, False)
        if fields and self.on_change is not None and delivery.channel != "in_app":
            await self.on_change([delivery])
        return new

    async def _deliveries(self, provider: str, items: Sequence[Feedback]) -> list[Delivery | None]:
        """Each feedback's delivery among the provider's own, in two queries at most."""
        by_id: dict[str, Delivery] = {}
        ids = [_uuid(item.delivery_id) for item in items if item.delivery_id]
        if any(ids):
            for row in await Delivery.filter(id__in=[i for i in ids if i], provider=provider):
                by_id[str(row.id)] = row
        by_vendor: dict[str, Delivery] = {}
        vendor_ids = [item.provider_id for item in items if item.provider_id]
        if vendor_ids:
            for row in await Delivery.filter(provider_id__in=vendor_ids, provider=provider):
                assert row.provider_id is not None
                by_vendor[row.provider_id] = row
        found: list[Delivery | None] = []
        for item in items:
            key = _uuid(item.delivery_id) if item.delivery_id else None
            row = by_id.get(str(key)) if key else None
            if row is None and item.provider_id:
                row = by_vendor.get(item.provider_id)
            found.append(row)
        return found

    async def _record_one(
        self, provider: str, delivery: Delivery, item: Feedback, at: datetime
    ) -> bool:
        """Keep the event and apply it, in one transaction; False for a replay."""
        detail = (item.detail or "")[:MAX_DETAIL] or None
        try:
            async with in_transaction():
                await DeliveryEvent.create(
                    delivery_id=delivery.id,
                    kind=item.kind.value,
                    at=at,
                    permanent=item.permanent,
                    detail=detail,
                    provider=provider,
                    fingerprint=fingerprint(delivery.id, item),
                )
                row = await Delivery.filter(id=delivery.id).select_for_update().first()
                if row is None:  # deleted meanwhile: the event went with it
                    return True
                fields = _apply(row, item.kind, at)
                if fields:
                    await row.save(update_fields=[*fields, "updated_at"])
                if item.kind is FeedbackKind.COMPLAINED and self.on_complaint is not None:
                    await self.on_complaint(provider, row, at)
                if item.kind is FeedbackKind.BOUNCED and self.on_bounce is not None:
                    await self.on_bounce(provider, row, item.permanent, at)
                if self.on_recorded is not None:
                    await self.on_recorded(row, item.kind.value, at, "status" in fields)
                for name in ("status", *FIRST_TIMES.values()):
                    setattr(delivery, name, getattr(row, name))
        except IntegrityError:
            return False
        return True


def _apply(row: Delivery, kind: FeedbackKind, at: datetime) -> list[str]:
    """The columns a feedback changes on its delivery: forward only, first times kept."""
    fields: list[str] = []
    column = FIRST_TIMES.get(kind)
    if column is not None:
        current = getattr(row, column)
        if current is None or _aware(current) > at:
            setattr(row, column, at)
            fields.append(column)
    status = next_status(row.status, kind)
    if status is not None:
        row.status = status
        fields.append("status")
    return fields


async def events_for(delivery_ids: Sequence[uuid.UUID]) -> list[list[DeliveryEvent]]:
    """Each delivery's events, in the order they happened, in one statement for them all."""
    grouped: dict[uuid.UUID, list[DeliveryEvent]] = {i: [] for i in delivery_ids}
    rows = await DeliveryEvent.filter(delivery_id__in=list(grouped)).order_by(
        "at", "recorded_at", "id"
    )
    for row in rows:
        grouped[row.delivery_id].append(row)  # type: ignore[attr-defined]
    return [grouped[i] for i in delivery_ids]


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
