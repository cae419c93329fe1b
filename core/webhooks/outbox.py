"""Writing events to the webhook outbox, and what each event says.

`enqueue` writes one row per live webhook subscribed to the event's type, inside whatever
transaction the caller holds, so a ledger entry, a feedback or a conversion and its webhook
rows commit (or vanish) together. A worker's status changes are announced after its round
commits (`deliveries_changed`): a crash between the two loses those events, and only those.

Payloads carry ids, statuses and times, never an address, a phone number or message text:
the builders below are the one place a payload is shaped, and they read no such column.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tidings.core.enums import WebhookDeliveryStatus, WebhookEventType
from tidings.core.ids import new_id
from tidings.core.models import Delivery, Message, PermissionEntry, Webhook, WebhookDelivery
from tidings.core.models.webhooks import CustomerEvent


def events_column(types: Sequence[WebhookEventType]) -> str:
    """How a webhook's subscriptions are stored: ",A,B,", each type between commas."""
    return "," + ",".join(sorted({t.value for t in types})) + ","


async def subscribers(*types: WebhookEventType) -> dict[WebhookEventType, list[uuid.UUID]]:
    """The live webhooks subscribed to each of `types` (those with none left out): one
    SELECT, so a source with nobody listening costs nothing more."""
    rows = await Webhook.filter(deleted_at__isnull=True).values_list("id", "events")
    found: dict[WebhookEventType, list[uuid.UUID]] = {}
    for hook_id, events in rows:
        for event_type in types:
            if f",{event_type.value}," in events:
                found.setdefault(event_type, []).append(uuid.UUID(str(hook_id)))
    return found


async def enqueue(
    event_type: WebhookEventType,
    items: Sequence[Mapping[str, Any]],
    now: datetime | None = None,
    hooks: Sequence[uuid.UUID] | None = None,
) -> int:
    """One outbox row per subscribed webhook (`hooks`, default: looked up) and item; the rows
    of one item share its event id. Returns how many rows it wrote."""
    if hooks is None:
        hooks = (await subscribers(event_type)).get(event_type, [])
    if not items or not hooks:
        return 0
    now = now or datetime.now(UTC)
    rows = []
    for item in items:
        event_id = new_id()
        body = json.dumps(
            {
                "id": str(event_id),
                "type": event_type.value,
                "createdAt": _iso(now),
                "data": dict(item),
            },
            separators=(",", ":"),
            sort_keys=True,
        )
        rows += [
            WebhookDelivery(
                id=new_id(),
                webhook_id=hook,
                event_id=event_id,
                event_type=event_type.value,
                body=body,
                status=WebhookDeliveryStatus.PENDING,
                next_attempt_at=now,
            )
            for hook in hooks
        ]
    await WebhookDelivery.bulk_create(rows)
    return len(rows)


async def deliveries_changed(rows: Sequence[Delivery]) -> None:
    """DELIVERY_STATUS for a worker round's changed deliveries (after the round committed)."""
    if not rows:
        return
    hooks = (await subscribers(WebhookEventType.DELIVERY_STATUS)).get(
        WebhookEventType.DELIVERY_STATUS
    )
    if not hooks:
        return
    categories = await _categories([r.message_id for r in rows])  # type: ignore[attr-defined]
    items = [delivery_data(r, categories) for r in rows]
    await enqueue(WebhookEventType.DELIVERY_STATUS, items, hooks=hooks)


def delivery_data(row: Delivery, categories: Mapping[uuid.UUID, str]) -> dict[str, Any]:
    """A delivery as a webhook sees it: ids, status, reason, attempts, times."""
    message_id = row.message_id  # type: ignore[attr-defined]
    return {
        "deliveryId": str(row.id),
        "messageId": str(message_id),
        "customerId": str(row.customer_id),  # type: ignore[attr-defined]
        "category": categories.get(message_id),
        "channel": row.channel,
        "status": row.status.value if hasattr(row.status, "value") else row.status,
        "reason": row.reason,
        "attempts": row.attempts,
        "provider": row.provider,
        "deliveredAt": _iso(row.delivered_at),
        "openedAt": _iso(row.opened_at),
        "clickedAt": _iso(row.clicked_at),
        "updatedAt": _iso(row.updated_at),
    }


async def feedback_recorded(
    delivery: Delivery, kind: str, at: datetime, status_changed: bool
) -> None:
    """Inside the feedback's transaction: ENGAGEMENT for an open or a click, DELIVERY_STATUS
    when the feedback moved the delivery's status."""
    wanted = []
    if status_changed:
        wanted.append(WebhookEventType.DELIVERY_STATUS)
    if kind in ("OPENED", "CLICKED"):
        wanted.append(WebhookEventType.ENGAGEMENT)
    if not wanted:
        return
    hooks = await subscribers(*wanted)
    if not hooks:
        return
    categories = await _categories([delivery.message_id])  # type: ignore[attr-defined]
    data = delivery_data(delivery, categories)
    status_hooks = hooks.get(WebhookEventType.DELIVERY_STATUS)
    if status_hooks:
        await enqueue(WebhookEventType.DELIVERY_STATUS, [data], hooks=status_hooks)
    engagement_hooks = hooks.get(WebhookEventType.ENGAGEMENT)
    if engagement_hooks:
        item = {k: data[k] for k in ("deliveryId", "messageId", "customerId", "category")}
        item.update(channel=delivery.channel, kind=kind, at=_iso(at))
        await enqueue(WebhookEventType.ENGAGEMENT, [item], hooks=engagement_hooks)


async def opens_recorded(delivery_ids: Sequence[uuid.UUID], at: datetime) -> None:
    """ENGAGEMENT (OPENED) for deliveries opened together (an inbox read many at once), in
    the caller's transaction: one SELECT when nobody listens, three more when someone does."""
    if not delivery_ids:
        return
    hooks = (await subscribers(WebhookEventType.ENGAGEMENT)).get(WebhookEventType.ENGAGEMENT)
    if not hooks:
        return
    rows = await Delivery.filter(id__in=list(delivery_ids)).order_by("id")
    categories = await _categories([r.message_id for r in rows])  # type: ignore[attr-defined]
    items = []
    for row in rows:
        data = delivery_data(row, categories)
        item = {k: data[k] for k in ("deliveryId", "messageId", "customerId", "category")}
        item.update(channel=row.channel, kind="OPENED", at=_iso(at))
        items.append(item)
    await enqueue(WebhookEventType.ENGAGEMENT, items, now=at, hooks=hooks)


async def consent_recorded(entry: PermissionEntry) -> None:
    """CONSENT for one ledger entry, inside the ledger's transaction. The evidence stays out
    (it may hold an IP address or the text of an SMS reply)."""
    status = entry.status
    await enqueue(
        WebhookEventType.CONSENT,
        [
            {
                "entryId": str(entry.id),
                "customerId": str(entry.customer_id),  # type: ignore[attr-defined]
                "channel": entry.channel,
                "category": entry.category,
                "status": status.value if hasattr(status, "value") else status,
                "source": entry.source,
                "grantedAt": _iso(entry.granted_at),
                "withdrawnAt": _iso(entry.withdrawn_at),
                "expiresAt": _iso(entry.expires_at),
                "recordedAt": _iso(entry.recorded_at),
            }
        ],
    )


async def conversion_recorded(event: CustomerEvent) -> None:
    """CONVERSION for a recorded customer event, inside its transaction."""
    await enqueue(WebhookEventType.CONVERSION, [conversion_data(event)])


def conversion_data(event: CustomerEvent) -> dict[str, Any]:
    return {
        "customerEventId": str(event.id),
        "customerId": str(event.customer_id),  # type: ignore[attr-defined]
        "type": event.type,
        "value": None if event.value is None else str(event.value),
        "currency": event.currency,
        "occurredAt": _iso(event.occurred_at),
        "attributedDeliveryId": _str(event.attributed_delivery_id),
        "attributedMessageId": _str(event.attributed_message_id),
    }


async def _categories(message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await Message.filter(id__in=list(set(message_ids))).values_list("id", "category")
    return {uuid.UUID(str(i)): c for i, c in rows}


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _str(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)
