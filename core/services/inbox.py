"""A customer's in-app inbox: list, count unread, mark read, archive.

Only the customer a notification belongs to ever reaches it. Changes are all or nothing, and
each one that changed something is announced on the live bus after its commit, so the
customer's other devices follow.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from tidings.core.delivery.engagement import INBOX, record_opens
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.live import LivePublisher
from tidings.core.models.messages import Notification
from tidings.core.pagination import Page, paginate
from tidings.core.viewer import Viewer
from tidings.core.webhooks import outbox

logger = logging.getLogger(__name__)

# The most ids one call may name unless the caller passes its own limit (the API passes its
# page size, so a client can act on any page it was given).
DEFAULT_MAX_IDS = 100
# Ids per UPDATE: well under SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 500


@dataclass(frozen=True)
class InboxChange:
    """What a change did: the unread count after it, and the ids it newly read or archived."""

    unread_count: int
    read_ids: list[uuid.UUID] = field(default_factory=list)
    archived_ids: list[uuid.UUID] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.read_ids or self.archived_ids)


def _owner(viewer: Viewer) -> uuid.UUID:
    """The inbox is the calling customer's; staff and API keys have none."""
    if not viewer.is_customer:
        raise ForbiddenError("Only a customer token may use the inbox.")
    return viewer.id


def _inbox(customer_id: uuid.UUID) -> QuerySet[Notification]:
    return Notification.filter(customer_id=customer_id, archived_at__isnull=True)


async def _unread(customer_id: uuid.UUID) -> int:
    return await _inbox(customer_id).filter(read_at__isnull=True).count()


async def _stamp(ids: Sequence[uuid.UUID], column: str, now: datetime) -> None:
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        await Notification.filter(id__in=chunk, **{f"{column}__isnull": True}).update(
            **{column: now}
        )


class InboxService:
    def __init__(self, live: LivePublisher, *, record_opens: bool = True) -> None:
        self.live = live
        # Reading a notification counts as opening its delivery (TIDINGS_TRACKING=off: not).
        self.record_opens = record_opens

    async def list(
        self, viewer: Viewer, first: int, after: str | None, *, unread_only: bool = False
    ) -> Page[Notification]:
        """The caller's notifications, newest first (by id, so pages are stable), archived
        ones left out."""
        query = _inbox(_owner(viewer))
        if unread_only:
            query = query.filter(read_at__isnull=True)
        return await paginate(query, first, after, newest_first=True)

    async def get(self, viewer: Viewer, notification_id: uuid.UUID) -> Notification | None:
        """One of the calling customer's notifications in its inbox (not archived), else None:
        nobody else ever reaches it."""
        if not viewer.is_customer:
            return None
        return await _inbox(viewer.id).filter(id=notification_id).first()

    async def unread_count(self, viewer: Viewer) -> int:
        return await _unread(_owner(viewer))

    async def mark_read(
        self, viewer: Viewer, ids: Sequence[uuid.UUID], max_ids: int = DEFAULT_MAX_IDS
    ) -> InboxChange:
        """Read the named notifications; one already read keeps its first `read_at`."""
        return await self._change(viewer, ids, max_ids, "read_at")

    async def archive(
        self, viewer: Viewer, ids: Sequence[uuid.UUID], max_ids: int = DEFAULT_MAX_IDS
    ) -> InboxChange:
        """Take the named notifications out of the inbox (and out of the unread count)."""
        return await self._change(viewer, ids, max_ids, "archived_at")

    async def mark_all_read(self, viewer: Viewer) -> InboxChange:
        """Read every unread notification in the inbox."""
        customer_id = _owner(viewer)
        now = datetime.now(UTC)
        async with in_transaction():
            rows = await _inbox(customer_id).filter(read_at__isnull=True).select_for_update()
            read_ids = sorted(row.id for row in rows)
            await _stamp(read_ids, "read_at", now)
            # Not simply 0: a notification may have arrived since the rows were locked.
            unread = await _unread(customer_id)
        await self._opened([row.delivery_id for row in rows], now)
        return await self._announce(customer_id, InboxChange(unread, read_ids=read_ids))

    async def _change(
        self, viewer: Viewer, ids: Sequence[uuid.UUID], max_ids: int, column: str
    ) -> InboxChange:
        customer_id = _owner(viewer)
        if len(ids) > max_ids:
            raise UserInputError("TOO_MANY", f"Name at most {max_ids} notifications.", "ids")
        wanted = list(dict.fromkeys(ids))
        now = datetime.now(UTC)
        async with in_transaction():
            rows = await Notification.filter(
                id__in=wanted, customer_id=customer_id
            ).select_for_update()
            # Someone else's notification is NOT_FOUND, exactly like one that does not exist.
            if len(rows) != len(wanted):
                raise NotFoundError("ids", "No such notification.")
            changed = sorted(row.id for row in rows if getattr(row, column) is None)
            await _stamp(changed, column, now)
            unread = await _unread(customer_id)
        if column == "read_at":
            await self._opened([r.delivery_id for r in rows if r.read_at is None], now)
        change = (
            InboxChange(unread, read_ids=changed)
            if column == "read_at"
            else InboxChange(unread, archived_ids=changed)
        )
        return await self._announce(customer_id, change)

    async def _opened(self, delivery_ids: list[uuid.UUID], now: datetime) -> None:
        """After the commit: each newly read notification's delivery counts as opened, and
        webhooks hear of it (ENGAGEMENT) in the same transaction as the open."""
        if not self.record_opens or not delivery_ids:
            return
        try:
            async with in_transaction():
                opened = await record_opens(delivery_ids, now, INBOX)
                await outbox.opens_recorded(opened, now)
        except Exception as error:  # the read is saved: a lost open must not fail it
            logger.warning("recording inbox opens failed (%s)", type(error).__name__)

    async def _announce(self, customer_id: uuid.UUID, change: InboxChange) -> InboxChange:
        """After the commit: tell the customer's other devices, when anything changed."""
        if change.changed:
            await self.live.inbox_changed(
                customer_id, change.unread_count, change.read_ids, change.archived_ids
            )
        return change
