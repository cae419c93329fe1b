"""Reading messages and deliveries, retrying failed ones, and managing templates."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tortoise.functions import Count
from tortoise.transactions import in_transaction

from tidings.core import validation
from tidings.core.delivery.catalogue import CategoryCatalogue
from tidings.core.delivery.sandbox import TemplateSandbox
from tidings.core.enums import DeliveryReason, DeliveryStatus, Role
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.models.messages import Delivery, Message, Template
from tidings.core.pagination import Page, PageKey, paginate, paginate_each
from tidings.core.viewer import Viewer

if TYPE_CHECKING:
    from tidings.core.live.publisher import LivePublisher


def _scope(viewer: Viewer) -> dict:
    """Staff see every message but agents, who see the ones they sent. Customers see none
    (their notifications are the inbox)."""
    if viewer.has_role(Role.ADMIN, Role.MARKETER, Role.AUDITOR):
        return {}
    if viewer.has_role(Role.AGENT):
        return {"created_by": viewer.ref}
    raise ForbiddenError("Only staff read messages.")


class MessageService:
    def __init__(
        self,
        categories: CategoryCatalogue,
        live: LivePublisher | None = None,
        templates: TemplateSandbox | None = None,
    ) -> None:
        self.categories = categories
        self.live = live  # staff following the message see a retried delivery queued again
        # Where a template is compiled and tried, under its limits, off the event loop.
        self.sandbox = templates or TemplateSandbox()

    async def get(self, viewer: Viewer, message_id: uuid.UUID) -> Message | None:
        try:
            scope = _scope(viewer)
        except ForbiddenError:
            return None
        return await Message.filter(id=message_id, **scope).first()

    async def get_many(
        self, viewer: Viewer, message_ids: Sequence[uuid.UUID]
    ) -> list[Message | None]:
        """Batch load for a DataLoader: each message the caller may see, else None."""
        try:
            scope = _scope(viewer)
        except ForbiddenError:
            return [None] * len(message_ids)
        rows = {m.id: m for m in await Message.filter(id__in=list(set(message_ids)), **scope)}
        return [rows.get(message_id) for message_id in message_ids]

    async def delivery(self, viewer: Viewer, delivery_id: uuid.UUID) -> Delivery | None:
        """A delivery of a message the caller may see, else None."""
        delivery = await Delivery.filter(id=delivery_id).first()
        if delivery is None or await self.get(viewer, delivery.message_id) is None:
            return None
        return delivery

    async def list(
        self, viewer: Viewer, first: int, after: str | None, category: str | None = None
    ) -> Page[Message]:
        query = Message.filter(**_scope(viewer))
        if category:
            query = query.filter(category=category)
        return await paginate(query, first, after, newest_first=True)

    async def deliveries_for(
        self, keys: Sequence[PageKey]
    ) -> list[Page[Delivery] | UserInputError]:
        """A page of deliveries, oldest first, for each message: a DataLoader's batch, as a
        page of messages shows each one's deliveries, in one statement per distinct page
        arguments."""
        return await paginate_each(
            lambda ids: Delivery.filter(message_id__in=ids), "message_id", keys
        )

    async def counts_for(
        self, message_ids: Sequence[uuid.UUID]
    ) -> list[list[tuple[DeliveryStatus, int]]]:
        rows = (
            await Delivery.filter(message_id__in=list(message_ids))
            .annotate(count=Count("id"))
            .group_by("message_id", "status")
            .values_list("message_id", "status", "count")
        )
        grouped: dict[uuid.UUID, list[tuple[DeliveryStatus, int]]] = defaultdict(list)
        for message_id, status, count in rows:
            grouped[message_id].append((DeliveryStatus(status), count))
        order = list(DeliveryStatus)
        return [
            sorted(grouped.get(mid, []), key=lambda item: order.index(item[0]))
            for mid in message_ids
        ]

    async def failed(self, viewer: Viewer, first: int, after: str | None) -> Page[Delivery]:
        if not viewer.has_role(Role.ADMIN, Role.AUDITOR):
            raise ForbiddenError("Only ADMIN and AUDITOR list failed deliveries.")
        return await paginate(Delivery.filter(status=DeliveryStatus.FAILED), first, after)

    async def retry(self, viewer: Viewer, delivery_id: uuid.UUID) -> Delivery:
        """Queue a FAILED delivery again, with a fresh retry budget (ADMIN)."""
        if not viewer.has_role(Role.ADMIN):
            raise ForbiddenError("Only ADMIN retries deliveries.")
        delivery = await Delivery.filter(id=delivery_id).first()
        if delivery is None:
            raise NotFoundError("id")
        if delivery.status is not DeliveryStatus.FAILED:
            raise UserInputError("NOT_FAILED", "Only a FAILED delivery can be retried.", "id")
        delivery.status = DeliveryStatus.QUEUED
        delivery.reason = None
        delivery.attempts = 0
        delivery.not_before = delivery.retry_from = datetime.now(UTC)
        delivery.locked_until = None
        await delivery.save(
            update_fields=[
                "status",
                "reason",
                "attempts",
                "not_before",
                "retry_from",
                "locked_until",
                "updated_at",
            ]
        )
        if self.live is not None:
            await self.live.deliveries_changed([delivery])
        return delivery

    async def retry_many(
        self,
        viewer: Viewer,
        message_id: uuid.UUID | None,
        reason: DeliveryReason | None,
        channel: str | None,
    ) -> int:
        """Queue again every FAILED delivery matching all the filters given (ADMIN), each
        with a fresh retry budget, as `retry` does one; returns how many. At least one filter
        is required, so a slip cannot requeue every failure ever recorded."""
        if not viewer.has_role(Role.ADMIN):
            raise ForbiddenError("Only ADMIN retries deliveries.")
        if message_id is None and reason is None and not channel:
            raise UserInputError(
                "REQUIRED", "Give messageId, reason or channel (or several).", "filter"
            )
        if message_id is not None and not await Message.filter(id=message_id).exists():
            raise NotFoundError("messageId")
        query = Delivery.filter(status=DeliveryStatus.FAILED)
        if message_id is not None:
            query = query.filter(message_id=message_id)
        if reason is not None:
            query = query.filter(reason=reason.value)
        if channel:
            query = query.filter(channel=channel)
        now = datetime.now(UTC)
        async with in_transaction():
            # Counted by the rows locked, not by the UPDATE: on SQLite its count includes the
            # stats triggers' rows (core/stats/triggers.py).
            ids = await query.select_for_update().values_list("id", flat=True)
            if not ids:
                return 0
            await Delivery.filter(id__in=ids).update(
                status=DeliveryStatus.QUEUED,
                reason=None,
                attempts=0,
                not_before=now,
                retry_from=now,
                locked_until=None,
                updated_at=now,
            )
        count = len(ids)
        if self.live is not None:
            for start in range(0, len(ids), 1000):
                rows = await Delivery.filter(id__in=ids[start : start + 1000])
                await self.live.deliveries_changed(rows)
        return count

    # Templates -----------------------------------------------------------------------------

    async def set_template(
        self,
        viewer: Viewer,
        category: str,
        channel: str,
        locale: str,
        title: str,
        body: str,
        html: str | None,
    ) -> Template:
        if not viewer.has_role(Role.ADMIN, Role.MARKETER):
            raise ForbiddenError("Only ADMIN and MARKETER manage templates.")
        await self.categories.require(category)
        self.categories.check_channel(channel)
        locale = validation.locale(locale)
        values = {
            "title": await self.sandbox.check(title, "title"),
            "body": await self.sandbox.check(body, "body"),
            "html": await self.sandbox.check(html, "html", html=True) if html else None,
        }
        template, created = await Template.get_or_create(
            category=category, channel=channel, locale=locale, defaults=values
        )
        if not created:
            template.update_from_dict(values)
            await template.save()
        return template

    async def template(self, viewer: Viewer, template_id: uuid.UUID) -> Template | None:
        """A template, for staff and API keys of any role (as `templates` lists them)."""
        if viewer.role is None:
            return None
        return await Template.filter(id=template_id).first()

    async def templates(self, category: str | None = None) -> list[Template]:
        query = Template.all()
        if category:
            query = query.filter(category=category)
        return await query.order_by("category", "channel", "locale")
