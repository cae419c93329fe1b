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
from tests.webhooks.conftest import create_webhook
from tidings.api.callbacks import feedback_recorder
from tidings.core.enums import DeliveryStatus
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
