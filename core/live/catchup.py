"""Reading back what a subscription may have missed while the bus was away.

Everything published was committed first, so the database holds it. A subscription keeps
the ids it sent recently and the time of the newest; after a gap it reads the rows since
then (with a margin for commits that landed out of order) and sends the ones it has not.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from tidings.core.live.publisher import delivery_data, notification_data
from tidings.core.models.messages import Delivery, Notification

# Rows committed up to this long after a newer one was seen are still caught.
MARGIN = timedelta(seconds=10)
REMEMBERED = 1000


class SentLog:
    """The ids a subscription sent within the catch-up window, and since when it must catch
    up. Ids older than the window are forgotten: a catch-up never reads that far back."""

    def __init__(self) -> None:
        self.started = self.since = datetime.now(UTC)
        self._ids: OrderedDict[str, datetime] = OrderedDict()

    def fresh(self, item_id: str, at: str | None = None) -> bool:
        """Record `item_id` as sent; False when it was sent already."""
        if item_id in self._ids:
            return False
        when = datetime.fromisoformat(at) if at is not None else datetime.now(UTC)
        self.since = max(self.since, when)
        self._ids[item_id] = when
        horizon = self.catch_up_from
        while self._ids and (
            len(self._ids) > REMEMBERED or next(iter(self._ids.values())) < horizon
        ):
            self._ids.popitem(last=False)
        return True

    def seen(self, key: str) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def catch_up_from(self) -> datetime:
        """Where a catch-up starts reading: a margin before the newest sent, never before
        the subscription began (the app read its inbox then)."""
        return max(self.started, self.since - MARGIN)


async def missed_notifications(
    customer_id: uuid.UUID, log: SentLog, limit: int
) -> list[dict[str, Any]]:
    """The customer's unarchived notifications since the log's time that it has not sent,
    oldest first (the newest `limit` of them)."""
    rows = (
        await Notification.filter(
            customer_id=customer_id, archived_at__isnull=True, created_at__gte=log.catch_up_from
        )
        .order_by("-id")
        .limit(limit)
    )
    return [notification_data(r) for r in reversed(rows) if not log.seen(str(r.id))]


async def changed_deliveries(
    message_id: uuid.UUID, since: datetime, limit: int
) -> list[dict[str, Any]]:
    """A message's deliveries changed since `since`, oldest change first (at most `limit`)."""
    rows = (
        await Delivery.filter(message_id=message_id, updated_at__gte=since - MARGIN)
        .order_by("-updated_at")
        .limit(limit)
    )
    return [delivery_data(r) for r in reversed(rows)]
