"""Recording what providers hear back (issue 12): receipts, bounces, complaints, engagement
and replies.

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
  whether or not it names a delivery, once (core/delivery/replies.py: a vendor's retry is
  not handed on again).
- Every newly recorded feedback is handed to `on_recorded` inside its transaction, with the
  delivery as it now stands and whether its status moved (the outbound webhooks' ENGAGEMENT
  and DELIVERY_STATUS events are written there, so they commit with the feedback).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tidings.core.delivery import engagement
from tidings.core.delivery.pipeline import OnChange
from tidings.core.delivery.replies import OnReply, ReplyHandler, ReplyOutcome, vendor_time
from tidings.core.enums import DeliveryStatus
from tidings.core.models.messages import Delivery, DeliveryEvent
from tidings.plugins.feedback import Feedback, FeedbackKind

MAX_DETAIL = 500
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


class Outcome(Enum):
    UNMATCHED = "unmatched"  # names no delivery of this provider
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # a replay: recorded before


@dataclass
class FeedbackResult:
    """What one request's feedback did: recorded anew, replays, naming no delivery."""

    recorded: int = 0
    duplicates: int = 0
    unmatched: int = 0


def fingerprint(delivery_id: uuid.UUID, item: Feedback) -> str:
    """The feedback's identity for replays. The time is the vendor's when it gave one; when it
    gave none (an SMS receipt) it is left out, not the time of arrival, so a replay matches."""
    parts = (str(delivery_id), item.kind.value, vendor_time(item), str(item.permanent), item.detail)
    if item.feedback_id:  # two events alike but for the vendor's id are two events
        parts = (*parts, item.feedback_id)
    return hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()


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
        self.replies = ReplyHandler(on_reply, key)
        self.on_complaint = on_complaint
        self.on_bounce = on_bounce
        self.on_recorded = on_recorded

    async def record(self, provider: str, items: Sequence[Feedback]) -> FeedbackResult:
        result = FeedbackResult()
        changed: dict[uuid.UUID, Delivery] = {}
        now = datetime.now(UTC)
        for item in items:
            reply = await self.replies.handle(provider, item)
            outcome, row = await self._record_one(provider, item, _aware(item.at) or now)
            if outcome is Outcome.RECORDED:
                assert row is not None
                result.recorded += 1
                changed[row.id] = row
            elif outcome is Outcome.DUPLICATE:
                result.duplicates += 1
            elif reply is ReplyOutcome.ACTED:  # a reply that names no delivery
                result.recorded += 1
            elif reply is ReplyOutcome.RETRY:
                result.duplicates += 1
            else:
                result.unmatched += 1
        if self.on_change is not None:
            rows = [row for row in changed.values() if row.channel != "in_app"]
            if rows:
                await self.on_change(rows)
        return result

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

    async def _record_one(
        self, provider: str, item: Feedback, at: datetime
    ) -> tuple[Outcome, Delivery | None]:
        """Find the delivery (locked), keep the event and apply it, in one transaction."""
        detail = (item.detail or "")[:MAX_DETAIL] or None
        try:
            async with in_transaction():
                row = await _locked(provider, item)
                if row is None:
                    return Outcome.UNMATCHED, None
                await DeliveryEvent.create(
                    delivery_id=row.id,
                    kind=item.kind.value,
                    at=at,
                    permanent=item.permanent,
                    detail=detail,
                    provider=provider,
                    fingerprint=fingerprint(row.id, item),
                )
                fields = _apply(row, item.kind, at)
                if fields:
                    await row.save(update_fields=[*fields, "updated_at"])
                if item.kind is FeedbackKind.COMPLAINED and self.on_complaint is not None:
                    await self.on_complaint(provider, row, at)
                if item.kind is FeedbackKind.BOUNCED and self.on_bounce is not None:
                    await self.on_bounce(provider, row, item.permanent, at)
                if self.on_recorded is not None:
                    await self.on_recorded(row, item.kind.value, at, "status" in fields)
        except IntegrityError:  # its fingerprint is taken: a replay
            return Outcome.DUPLICATE, None
        return Outcome.RECORDED, row


async def _locked(provider: str, item: Feedback) -> Delivery | None:
    """The feedback's delivery among the provider's own, locked until the transaction ends
    (by our id, else the vendor's: one statement either way)."""
    key = _uuid(item.delivery_id) if item.delivery_id else None
    if key is not None:
        row = await Delivery.filter(id=key, provider=provider).select_for_update().first()
        if row is not None or not item.provider_id:
            return row
    if item.provider_id:
        found = Delivery.filter(provider_id=item.provider_id, provider=provider)
        return await found.select_for_update().first()
    return None


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
