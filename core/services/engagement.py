"""Opens and clicks Tidings sees itself (issue 12, item 9): the tracked mail's pixel and links,
and what a customer's app reports (`recordEngagement`). In-app `markRead` counts as an open
too (core/services/inbox.py). What is kept, and how replays are treated: core/delivery/
engagement.py.

With TIDINGS_TRACKING=off nothing is recorded from any of them; a tracked link in mail sent
before still redirects (the API answers it whatever this service says).
"""

from __future__ import annotations

import uuid

from tidings.core.delivery import engagement
from tidings.core.delivery.feedback import STATUS_RANK, FeedbackRecorder
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.models.messages import Delivery
from tidings.core.viewer import Viewer
from tidings.plugins.feedback import FeedbackKind


class EngagementService:
    def __init__(self, recorder: FeedbackRecorder | None) -> None:
        # None: TIDINGS_TRACKING=off, nothing is recorded.
        self.recorder = recorder

    @property
    def enabled(self) -> bool:
        return self.recorder is not None

    async def tracked(self, delivery_id: uuid.UUID, kind: FeedbackKind, link: str = "") -> None:
        """The open pixel was fetched, or a tracked link followed (`link`: its original URL,
        kept without its query, which may carry personal data, for admins)."""
        if self.recorder is not None:
            await self.recorder.record_engagement(
                delivery_id, kind, detail=_without_query(link), source=engagement.TRACKING
            )

    async def report(self, viewer: Viewer, delivery_id: uuid.UUID, kind: FeedbackKind) -> bool:
        """A customer's app reports an open or a click of one of the customer's own deliveries
        (a push, say): whether it was new. Someone else's delivery is NOT_FOUND, exactly as
        one that does not exist; one never handed to a provider is NOT_SENT."""
        if not viewer.is_customer:
            raise ForbiddenError("Only a customer's app reports its own engagement.")
        if kind not in engagement.ENGAGEMENT_KINDS:
            raise UserInputError("INVALID_KIND", "Report OPENED or CLICKED.", "kind")
        row = await Delivery.filter(id=delivery_id, customer_id=viewer.id).first()
        if row is None:
            raise NotFoundError("deliveryId", "No such delivery.")
        if row.status not in STATUS_RANK:
            raise UserInputError("NOT_SENT", "This delivery was never sent.", "deliveryId")
        if self.recorder is None:
            raise UserInputError("TRACKING_OFF", "Engagement tracking is turned off.", "kind")
        return bool(await self.recorder.record_engagement(delivery_id, kind, source=engagement.APP))


def _without_query(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0]
