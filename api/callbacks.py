"""What the core's callbacks are wired to. core/delivery cannot import core/services (nor
the webhook outbox's callers their listeners), so the app factory joins them here."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from tidings.api.metrics import Instruments
from tidings.core.address_hash import AddressHasher
from tidings.core.delivery.feedback import FeedbackRecorder, OnRecorded
from tidings.core.delivery.replies import FEEDBACK_KEY_LABEL
from tidings.core.keys import derive_key
from tidings.core.live import LivePublisher
from tidings.core.models import Delivery
from tidings.core.services import Services
from tidings.core.services.bounces import BounceSuppressor
from tidings.core.services.complaints import withdraw_for_complaint
from tidings.core.services.sms_replies import handle_sms_reply
from tidings.core.webhooks import outbox

logger = logging.getLogger("tidings")

OnChange = Callable[[Sequence[Delivery]], Awaitable[None]]


def each_of(*callbacks: OnChange) -> OnChange:
    """One on_change for several listeners: a failing one is logged, the others still run."""

    async def announce(rows: Sequence[Delivery]) -> None:
        for callback in callbacks:
            try:
                await callback(rows)
            except Exception:
                logger.exception("announcing delivery changes failed")

    return announce


def worker_on_change(live: LivePublisher) -> OnChange:
    """A worker round's changes: webhook rows first (durable), then the live bus (best
    effort)."""
    return each_of(outbox.deliveries_changed, live.deliveries_changed)


def feedback_recorder(
    services: Services,
    secret_key: str,
    hasher: AddressHasher,
    instruments: Instruments | None = None,
) -> FeedbackRecorder:
    """The one recorder every way feedback comes in shares (`POST /feedback/<provider>`,
    `inbound-smtp`): live updates for `deliveryUpdates`, STOP replies, complaints withdrawing
    marketing, bounces suppressing addresses, webhook events written with the feedback. Reply
    digests are keyed from the secret key, so every process recognises the same retry.
    `instruments`: counts each feedback recorded (TIDINGS_METRICS)."""
    on_recorded: OnRecorded = outbox.feedback_recorded
    if instruments is not None:
        counting = instruments

        async def on_recorded(delivery: Delivery, kind: str, at: datetime, moved: bool) -> None:
            await outbox.feedback_recorded(delivery, kind, at, moved)
            counting.count_feedback(delivery.channel, kind)

    return FeedbackRecorder(
        on_change=services.live.deliveries_changed,
        on_reply=handle_sms_reply,
        on_complaint=withdraw_for_complaint,
        on_bounce=BounceSuppressor(hasher),
        on_recorded=on_recorded,
        key=derive_key(secret_key, FEEDBACK_KEY_LABEL),
    )
