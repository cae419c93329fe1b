"""Outbound webhooks, as ADMIN manages them: create (the signing secret is shown once),
delete (nothing more is sent), list, and each one's attempts."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from tidings.core.enums import Role, WebhookDeliveryStatus, WebhookEventType
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.models import Webhook, WebhookDelivery
from tidings.core.pagination import Page, paginate
from tidings.core.viewer import Viewer
from tidings.core.webhooks.outbox import events_column
from tidings.core.webhooks.urls import UnsafeDestinationError, check_destination, check_url

SECRET_PREFIX = "whsec_"
# Live webhooks at most: each event is written once per subscribed webhook, and `webhooks`
# lists them all on one page.
MAX_WEBHOOKS = 50


def _require_admin(viewer: Viewer) -> None:
    if not viewer.has_role(Role.ADMIN):
        raise ForbiddenError("Only ADMIN manages webhooks.")


class WebhookService:
    def __init__(self, allow_private: bool = False) -> None:
        # TIDINGS_WEBHOOK_ALLOW_PRIVATE: whether endpoints on private addresses are allowed.
        self.allow_private = allow_private

    async def create(
        self, viewer: Viewer, url: str, events: Sequence[WebhookEventType]
    ) -> tuple[Webhook, str]:
        """The new webhook and its signing secret (returned this once)."""
        _require_admin(viewer)
        url = check_url(url)
        if not events:
            raise UserInputError("REQUIRED", "Subscribe to at least one event type.", "events")
        if await Webhook.filter(deleted_at__isnull=True).count() >= MAX_WEBHOOKS:
            raise UserInputError(
                "TOO_MANY", f"At most {MAX_WEBHOOKS} webhooks; delete one first.", "url"
            )
        try:
            await check_destination(url, self.allow_private)
        except UnsafeDestinationError:
            raise UserInputError(
                "UNSAFE_URL",
                "The URL points at a private or loopback address "
                "(TIDINGS_WEBHOOK_ALLOW_PRIVATE allows them).",
                "url",
            ) from None
        except OSError:
            raise UserInputError("INVALID_URL", "The URL's host does not resolve.", "url") from None
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        hook = await Webhook.create(
            url=url, events=events_column(events), secret=secret, created_by=viewer.ref
        )
        return hook, secret

    async def delete(self, viewer: Viewer, webhook_id: uuid.UUID) -> Webhook:
        """Stop the webhook: no new event reaches it, and what waits in its outbox is
        CANCELLED. Its attempts stay listed."""
        _require_admin(viewer)
        async with in_transaction():
            hook = (
                await Webhook.filter(id=webhook_id, deleted_at__isnull=True)
                .select_for_update()
                .first()
            )
            if hook is None:
                raise NotFoundError("id")
            hook.deleted_at = datetime.now(UTC)
            await hook.save(update_fields=["deleted_at"])
            await WebhookDelivery.filter(
                webhook_id=hook.id, status=WebhookDeliveryStatus.PENDING
            ).update(status=WebhookDeliveryStatus.CANCELLED, locked_until=None)
        return hook

    async def list(self, viewer: Viewer) -> list[Webhook]:
        """The webhooks not deleted, oldest first."""
        _require_admin(viewer)
        return await Webhook.filter(deleted_at__isnull=True).order_by("id")

    async def deliveries(
        self, viewer: Viewer, webhook_id: uuid.UUID, first: int, after: str | None
    ) -> Page[WebhookDelivery]:
        """A webhook's attempts, newest event first (a deleted webhook's too)."""
        _require_admin(viewer)
        if not await Webhook.filter(id=webhook_id).exists():
            raise NotFoundError("webhookId")
        return await paginate(
            WebhookDelivery.filter(webhook_id=webhook_id), first, after, newest_first=True
        )
