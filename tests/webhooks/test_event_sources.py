"""Every source writes its events to the outbox: a consent change (the ledger), a delivery's
status (the worker, then a receipt), an open (feedback) and a conversion (recordEvent). A
real mail goes to a local SMTP server; the webhook bodies carry ids, never the address, the
phone number or the message's text."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from tests.conftest import SECRET, data
from tests.core.support import raw_id
from tests.delivery.conftest import grant, marketing_customer
from tests.delivery.support import rows, send
from tests.inbox.support import MARK_ALL_READ
from tests.inbox.test_engagement import in_app_messages
from tests.webhooks.conftest import create_webhook
from tidings.api.callbacks import feedback_recorder
from tidings.core.enums import DeliveryStatus, Role
from tidings.core.models import WebhookDelivery
from tidings.plugins import Feedback, FeedbackKind

RECORD = """
mutation($i: RecordEventInput!) { recordEvent(input: $i) {
  event { id attributedDeliveryId } errors { code field } } }
"""
EMAIL = "ann.private.x9@example.org"


async def test_each_source_reaches_the_webhook_with_ids_only(mail_api, receiver, smtp):
    api = mail_api
    token, customer = await marketing_customer(api, email=EMAIL)
    created = await create_webhook(
        api, token, receiver.url, ["DELIVERY_STATUS", "ENGAGEMENT", "CONSENT", "CONVERSION"]
    )
    assert created["errors"] == []
    await grant(api, token, customer)
    message = await send(api, token, "promos", customer, title="Secret title q1", body="Body q2")
    assert await api.runtime.worker.run_once() == 1
    [delivery] = await rows(message)
    assert delivery.status is DeliveryStatus.SENT and len(smtp.received) == 1

    opened = datetime.now(UTC) - timedelta(minutes=5)
    recorder = feedback_recorder(api.runtime.services, SECRET, api.runtime.hasher)
    result = await recorder.record(
        "smtp",
        [
            Feedback(FeedbackKind.DELIVERED, delivery_id=str(delivery.id)),
            Feedback(FeedbackKind.OPENED, delivery_id=str(delivery.id), at=opened),
        ],
    )
    assert result.recorded == 2
    event = data(
        await api.gql(
            RECORD,
            {
                "i": {
                    "idempotencyKey": "order-1",
                    "externalId": "ann",
                    "type": "purchase",
                    "value": "42.50",
                    "currency": "EUR",
                }
            },
            token,
        )
    )["recordEvent"]
    assert event["errors"] == []
    assert raw_id(event["event"]["attributedDeliveryId"]) == delivery.id

    assert await api.runtime.webhooks.run_once() == 5
    bodies = [r.json for r in receiver.received]
    assert Counter(b["type"] for b in bodies) == {
        "CONSENT": 1,
        "DELIVERY_STATUS": 2,
        "ENGAGEMENT": 1,
        "CONVERSION": 1,
    }
    assert all(r.verified(created["secret"]) for r in receiver.received)
    statuses = [b["data"]["status"] for b in bodies if b["type"] == "DELIVERY_STATUS"]
    assert sorted(statuses) == ["DELIVERED", "SENT"]
    [engaged] = [b["data"] for b in bodies if b["type"] == "ENGAGEMENT"]
    assert engaged["kind"] == "OPENED" and engaged["deliveryId"] == str(delivery.id)
    assert engaged["messageId"] == str(delivery.message_id)  # type: ignore[attr-defined]
    assert engaged["category"] == "promos" and engaged["channel"] == "email"
    [conversion] = [b["data"] for b in bodies if b["type"] == "CONVERSION"]
    assert conversion["value"] == "42.5000" and conversion["currency"] == "EUR"
    assert conversion["attributedDeliveryId"] == str(delivery.id)
    assert conversion["customerId"] == str(raw_id(customer))
    for request in receiver.received:
        for secret in (EMAIL, "ann.private", "Secret title", "Body q2"):
            assert secret.encode() not in request.body, request.body

    # A replayed feedback records nothing, and so writes no event.
    again = await recorder.record(
        "smtp", [Feedback(FeedbackKind.OPENED, delivery_id=str(delivery.id), at=opened)]
    )
    assert again.duplicates == 1
    assert await WebhookDelivery.filter(status="PENDING").count() == 0


async def test_engagement_tidings_sees_itself_reaches_the_webhook(mail_api, receiver):
    """An inbox read (markAllRead: one event per newly opened delivery) and a tracked click
    each write their ENGAGEMENT event with the engagement; reading again writes nothing."""
    api = mail_api
    _, token = await api.staff(Role.ADMIN)
    created = await create_webhook(api, token, receiver.url, ["ENGAGEMENT"])
    assert created["errors"] == []
    _, customer_token, notes = await in_app_messages(api, 3)
    read = data(await api.gql(MARK_ALL_READ, {}, customer_token))["markAllRead"]
    assert read["errors"] == []
    await api.gql(MARK_ALL_READ, {}, customer_token)  # nothing new: no event
    clicked = notes[0].delivery_id
    await api.runtime.services.engagement.tracked(
        clicked, FeedbackKind.CLICKED, "https://shop.example/p/1"
    )
    assert await api.runtime.webhooks.run_once() == 4
    bodies = [r.json["data"] for r in receiver.received]
    assert all(r.verified(created["secret"]) for r in receiver.received)
    assert Counter(b["kind"] for b in bodies) == {"OPENED": 3, "CLICKED": 1}
    assert {b["deliveryId"] for b in bodies if b["kind"] == "OPENED"} == {
        str(n.delivery_id) for n in notes
    }
    [click] = [b for b in bodies if b["kind"] == "CLICKED"]
    assert click["deliveryId"] == str(clicked) and click["channel"] == "in_app"
    assert all(b["category"] == "orders" for b in bodies)
    assert b"shop.example" not in b"".join(r.body for r in receiver.received)
