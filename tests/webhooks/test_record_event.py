"""recordEvent: validation with clear errors, idempotency per customer, and attribution to
the last clicked (else opened) delivery within TIDINGS_ATTRIBUTION_WINDOW, edges included."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Api, data, make_settings
from tests.core.support import create_customer, raw_id
from tidings.api.app import create_app
from tidings.core.enums import DeliveryStatus, MessageStatus, Role
from tidings.core.ids import new_id
from tidings.core.models import CustomerEvent, Delivery, Message, WebhookDelivery
from tidings.schema.ids import to_global_id

RECORD = """
mutation($i: RecordEventInput!) { recordEvent(input: $i) {
  event { id customerId type value currency occurredAt recordedAt idempotencyKey
          attributedDeliveryId attributedMessageId }
  errors { code field message } } }
"""
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
async def events_api(db: str) -> AsyncIterator[Api]:
    app = create_app(
        make_settings(db, TIDINGS_IN_PROCESS_WORKER="false", TIDINGS_ATTRIBUTION_WINDOW="2d"),
        manage_database=False,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield Api(client=c, app=app)
    app.state.runtime.templates.close()


async def record(api: Api, token: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("idempotencyKey", f"k-{uuid.uuid4().hex[:8]}")
    fields.setdefault("type", "purchase")
    return data(await api.gql(RECORD, {"i": fields}, token))["recordEvent"]


async def setup(api: Api) -> tuple[str, dict[str, Any]]:
    _, token = await api.staff(Role.ADMIN)
    return token, await create_customer(api, token, externalId="cust-1")


BAD_INPUT = [
    ({"value": "abc", "currency": "EUR"}, "INVALID_DECIMAL", "value"),
    ({"value": "", "currency": "EUR"}, "INVALID_DECIMAL", "value"),
    ({"value": "1e3", "currency": "EUR"}, "INVALID_DECIMAL", "value"),
    ({"value": "NaN", "currency": "EUR"}, "INVALID_DECIMAL", "value"),
    ({"value": "Infinity", "currency": "EUR"}, "INVALID_DECIMAL", "value"),
    ({"value": "1.2.3", "currency": "EUR"}, "INVALID_DECIMAL", "value"),
    ({"value": "4 2", "currency": "EUR"}, "INVALID_DECIMAL", "value"),
    ({"value": "-1.00", "currency": "EUR"}, "NEGATIVE_VALUE", "value"),
    ({"value": "123456789012345", "currency": "EUR"}, "TOO_MANY_DIGITS", "value"),
    ({"value": "1.23456", "currency": "EUR"}, "TOO_MANY_DIGITS", "value"),
    ({"value": "42.50"}, "CURRENCY_REQUIRED", "currency"),
    ({"currency": "EUR"}, "VALUE_REQUIRED", "value"),
    ({"value": "1", "currency": "EURO"}, "INVALID_CURRENCY", "currency"),
    ({"value": "1", "currency": "E1R"}, "INVALID_CURRENCY", "currency"),
    ({"value": "1", "currency": "€€€"}, "INVALID_CURRENCY", "currency"),
    ({"type": ""}, "INVALID_TYPE", "type"),
    ({"type": "has space"}, "INVALID_TYPE", "type"),
    ({"type": "x" * 65}, "INVALID_TYPE", "type"),
    ({"idempotencyKey": " "}, "REQUIRED", "idempotencyKey"),
    ({"idempotencyKey": "k" * 256}, "TOO_LONG", "idempotencyKey"),
    ({"occurredAt": "2999-01-01T00:00:00Z"}, "INVALID_TIME", "occurredAt"),
]


@pytest.mark.parametrize(("fields", "code", "field"), BAD_INPUT)
async def test_bad_input_is_refused_clearly(events_api, fields, code, field):
    token, customer = await setup(events_api)
    payload = await record(events_api, token, customerId=customer["id"], **fields)
    assert payload["event"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert payload["errors"][0]["message"]
    assert await CustomerEvent.all().count() == 0


async def test_exactly_one_way_to_name_the_customer(events_api):
    token, customer = await setup(events_api)
    both = await record(events_api, token, customerId=customer["id"], externalId="cust-1")
    neither = await record(events_api, token)
    assert both["errors"][0]["code"] == neither["errors"][0]["code"] == "CUSTOMER_REQUIRED"
    unknown = await record(events_api, token, externalId="nobody")
    assert unknown["errors"] == [
        {"code": "NOT_FOUND", "field": "externalId", "message": "Not found."}
    ]
    missing = await record(events_api, token, customerId=to_global_id("Customer", new_id()))
    assert missing["errors"][0]["code"] == "NOT_FOUND"


async def test_an_amount_is_kept_exactly(events_api):
    token, customer = await setup(events_api)
    payload = await record(
        events_api, token, externalId="cust-1", value="42.50", currency="eur", type="Purchase"
    )
    event = payload["event"]
    assert (event["value"], event["currency"], event["type"]) == ("42.5000", "EUR", "purchase")
    assert event["customerId"] == customer["id"]
    assert (await record(events_api, token, externalId="cust-1", value="0.1000", currency="USD"))[
        "event"
    ]["value"] == "0.1000"
    biggest = await record(
        events_api, token, externalId="cust-1", value="99999999999999.9999", currency="JPY"
    )
    assert biggest["event"]["value"] == "99999999999999.9999"
    signup = await record(events_api, token, externalId="cust-1", type="signup")
    assert (signup["event"]["value"], signup["event"]["currency"]) == (None, None)


async def test_the_same_key_returns_the_first_event_and_other_content_conflicts(events_api):
    token, customer = await setup(events_api)
    fields = {
        "externalId": "cust-1",
        "idempotencyKey": "order-7",
        "value": "10.00",
        "currency": "EUR",
        "occurredAt": NOW.isoformat(),
    }
    first = await record(events_api, token, **fields)
    again = await record(events_api, token, **{**fields, "value": "10"})  # the same amount
    by_id = await record(
        events_api, token, **{**fields, "externalId": None, "customerId": customer["id"]}
    )
    assert first["event"]["id"] == again["event"]["id"] == by_id["event"]["id"]
    assert await CustomerEvent.all().count() == 1
    conflict = await record(events_api, token, **{**fields, "value": "11.00"})
    assert [(e["code"], e["field"]) for e in conflict["errors"]] == [
        ("IDEMPOTENCY_CONFLICT", "idempotencyKey")
    ]
    # Keys are the customer's own: another customer's order-7 is another event.
    await create_customer(events_api, token, externalId="cust-2")
    other = await record(events_api, token, **{**fields, "externalId": "cust-2"})
    assert other["errors"] == [] and other["event"]["id"] != first["event"]["id"]


async def delivery(customer_id: uuid.UUID, **times: datetime) -> Delivery:
    message = await Message.create(
        category="news",
        status=MessageStatus.EXPANDED,
        idempotency_scope="t",
        idempotency_key=uuid.uuid4().hex,
        request_hash="h",
        audience={},
        created_by="t",
    )
    return await Delivery.create(
        message_id=message.id,
        customer_id=customer_id,
        channel="email",
        status=DeliveryStatus.SENT,
        **times,
    )


async def attributed(api: Api, token: str, **fields: Any) -> uuid.UUID | None:
    payload = await record(api, token, externalId="cust-1", occurredAt=NOW.isoformat(), **fields)
    assert payload["errors"] == [], payload["errors"]
    found = payload["event"]["attributedDeliveryId"]
    return raw_id(found) if found else None


async def test_attribution_prefers_the_last_click_within_the_window(events_api):
    api = events_api
    token, customer = await setup(api)
    cid = raw_id(customer["id"])
    window = timedelta(days=2)  # TIDINGS_ATTRIBUTION_WINDOW=2d
    assert await attributed(api, token) is None

    opened = await delivery(cid, opened_at=NOW - timedelta(hours=1))
    assert await attributed(api, token) == opened.id
    # A click wins over a later open; the last click over an earlier one.
    edge = await delivery(cid, clicked_at=NOW - window)  # exactly at the window's start
    assert await attributed(api, token) == edge.id
    later = await delivery(cid, clicked_at=NOW - timedelta(hours=3), opened_at=NOW)
    assert await attributed(api, token) == later.id
    at_the_moment = await delivery(cid, clicked_at=NOW)  # both ends count
    event = await record(api, token, externalId="cust-1", occurredAt=NOW.isoformat())
    assert raw_id(event["event"]["attributedDeliveryId"]) == at_the_moment.id
    assert raw_id(event["event"]["attributedMessageId"]) == at_the_moment.message_id  # type: ignore[attr-defined]


async def test_attribution_ignores_what_falls_outside_the_window_or_is_not_the_customers(
    events_api,
):
    api = events_api
    token, customer = await setup(api)
    cid = raw_id(customer["id"])
    other = await create_customer(api, token, externalId="cust-other")
    window = timedelta(days=2)
    await delivery(cid, clicked_at=NOW - window - timedelta(seconds=1))  # just too early
    await delivery(cid, clicked_at=NOW + timedelta(seconds=1))  # after the event
    await delivery(raw_id(other["id"]), clicked_at=NOW - timedelta(minutes=1))
    assert await attributed(api, token) is None
    opened = await delivery(cid, opened_at=NOW - window)
    assert await attributed(api, token) == opened.id


async def test_a_conversion_is_written_to_the_outbox_once(events_api, receiver):
    from tests.webhooks.conftest import create_webhook

    api = events_api
    token, _ = await setup(api)
    await create_webhook(api, token, receiver.url, ["CONVERSION"])
    for _ in range(2):
        await record(api, token, externalId="cust-1", idempotencyKey="once", type="signup")
    assert await WebhookDelivery.filter(event_type="CONVERSION").count() == 1
