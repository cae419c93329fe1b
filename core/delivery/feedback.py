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
- OPENED, CLICKED: `opened_at`, `clicked_at`, the first time of each.
- REPLIED with a `sender`: handed to `on_reply` (a STOP reply withdraws SMS marketing),
  whether or not it names a delivery.
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

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tidings.core.delivery.pipeline import OnChange
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


@dataclass
class FeedbackResult:
    """What one request's feedback did: recorded anew, replays, naming no delivery."""

    recorded: int = 0
    duplicates: int = 0
    unmatched: int = 0


def fingerprint(delivery_id: uuid.UUID, item: Feedback) -> str:
    """The feedback's identity for replays. The time is the vendor's when it gave one; when it
    gave none (an SMS receipt) it is left out, not the time of arrival, so a replay matches."""
    when = _aware(item.at).isoformat() if item.at is not None else ""  # type: ignore[union-attr]
    parts = (str(delivery_id), item.kind.value, when, str(item.permanent), item.detail)
    return hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()


# What a REPLIED feedback with a sender is handed to (a STOP reply, say): the provider's name
# and the feedback; True when it acted on the reply.
OnReply = Callable[[str, Feedback], Awaitable[bool]]
# What a newly recorded COMPLAINED feedback is handed to, inside its transaction: the
# provider's name, the delivery and when it happened.
OnComplaint = Callable[[str, Delivery, datetime], Awaitable[object]]
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
        on_recorded: OnRecorded | None = None,
    ) -> None:
        self.on_change = on_change
        self.on_reply = on_reply
        self.on_complaint = on_complaint
        self.on_recorded = on_recorded

    async def record(self, provider: str, items: Sequence[Feedback]) -> FeedbackResult:
        result = FeedbackResult()
        found = await self._deliveries(provider, items)
        changed: dict[uuid.UUID, Delivery] = {}
        now = datetime.now(UTC)
        for item, delivery in zip(items, found, strict=True):
            replied = item.kind is FeedbackKind.REPLIED and item.sender and self.on_reply
            acted = bool(replied) and await self.on_reply(provider, item)  # type: ignore[misc]
            if delivery is None:
                if acted:
                    result.recorded += 1
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
