"""Engagement that names a delivery directly (issue 12, item 9): the open pixel, a tracked
link, an in-app `markRead`, an app's `recordEngagement`.

Each is kept as a `DeliveryEvent` (OPENED or CLICKED) beside what providers report, and sets
the delivery's `opened_at` / `clicked_at` the first time only. Replays are deduplicated, not
counted: a delivery has at most one OPENED event from these sources (a reloaded pixel, a
mail client that fetches images twice, a second `markRead` record nothing more), and one
CLICKED event per link (its URL without query or fragment; an app's reports count as one
link). A click
implies an open: a click on a delivery never opened records its OPENED event too, at the same
time. Statuses never move: engagement says nothing about delivery.

`source` is kept in the event's `provider` column: `tracking` (pixel and links), `inbox`
(`markRead`), `app` (`recordEngagement`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from tidings.core.models.messages import Delivery, DeliveryEvent
from tidings.plugins.feedback import FeedbackKind

ENGAGEMENT_KINDS = (FeedbackKind.OPENED, FeedbackKind.CLICKED)
TRACKING = "tracking"
INBOX = "inbox"
APP = "app"
MAX_DETAIL = 500
# Deliveries per statement when an inbox reads many notifications at once.
CHUNK = 500


def engagement_fingerprint(delivery_id: uuid.UUID, kind: FeedbackKind, link: str = "") -> str:
    """One OPENED per delivery, one CLICKED per delivery and link, whatever the time."""
    parts = ("engagement", str(delivery_id), kind.value, link)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _event(
    delivery_id: uuid.UUID, kind: FeedbackKind, at: datetime, source: str, link: str = ""
) -> DeliveryEvent:
    return DeliveryEvent(
        delivery_id=delivery_id,
        kind=kind.value,
        at=at,
        permanent=False,
        detail=link[:MAX_DETAIL] or None,
        provider=source,
        fingerprint=engagement_fingerprint(delivery_id, kind, link),
    )


async def record_engagement(
    delivery: Delivery, kind: FeedbackKind, at: datetime, source: str, link: str = ""
) -> tuple[bool, list[str]]:
    """Record one engagement on `delivery`: whether it was new, and the columns it set (the
    row is updated in place)."""
    if kind not in ENGAGEMENT_KINDS:
        raise ValueError(f"{kind.value} is not engagement")
    events = [_event(delivery.id, kind, at, source, link if kind is FeedbackKind.CLICKED else "")]
    if kind is FeedbackKind.CLICKED:
        events.append(_event(delivery.id, FeedbackKind.OPENED, at, source))
    new = await _insert_new(events)
    if not new:
        return False, []
    fields = await _first_times([delivery], new, at)
    for name in fields:
        setattr(delivery, name, at)
    return any(e.kind == kind.value for e in new), fields


async def record_opens(
    delivery_ids: Sequence[uuid.UUID], at: datetime, source: str
) -> list[uuid.UUID]:
    """Record an open on each existing delivery of `delivery_ids` (an inbox read many at once),
    in a few statements per CHUNK; the deliveries newly opened."""
    recorded: list[uuid.UUID] = []
    ids = list(dict.fromkeys(delivery_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        existing = await Delivery.filter(id__in=chunk).values_list("id", flat=True)
        new = await _insert_new([_event(i, FeedbackKind.OPENED, at, source) for i in existing])
        if new:
            await Delivery.filter(
                id__in=[e.delivery_id for e in new],  # type: ignore[attr-defined]
                opened_at__isnull=True,
            ).update(opened_at=at)
        recorded += [e.delivery_id for e in new]  # type: ignore[attr-defined]
    return recorded


async def _insert_new(events: list[DeliveryEvent]) -> list[DeliveryEvent]:
    """The events not recorded before, now inserted (a concurrent twin is ignored)."""
    if not events:
        return []
    prints = [e.fingerprint for e in events]
    seen = set(
        await DeliveryEvent.filter(fingerprint__in=prints).values_list("fingerprint", flat=True)
    )
    new = [e for e in events if e.fingerprint not in seen]
    if new:
        await DeliveryEvent.bulk_create(new, ignore_conflicts=True)
    return new


async def _first_times(
    deliveries: Sequence[Delivery], new: Sequence[DeliveryEvent], at: datetime
) -> list[str]:
    """Set `opened_at` / `clicked_at` where they are still empty; the columns that were."""
    fields: list[str] = []
    ids = [d.id for d in deliveries]
    for kind, column in ((FeedbackKind.OPENED, "opened_at"), (FeedbackKind.CLICKED, "clicked_at")):
        if any(e.kind == kind.value for e in new):
            changed = await Delivery.filter(id__in=ids, **{f"{column}__isnull": True}).update(
                **{column: at, "updated_at": datetime.now(UTC)}
            )
            if changed:
                fields.append(column)
    return fields
