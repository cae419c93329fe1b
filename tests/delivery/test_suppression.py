"""Issue 12, item 7: a hard bounce suppresses the address for its channel. The built-in SMS
provider's signed receipts (`POST /feedback/http-sms`) bounce a real send through the local
SMS API peer; the next send then finds no address ("suppressed: hard bounce") and takes the
category's fallback channel, explainDelivery says the same, and only a keyed hash of the
number is kept, so it stops a re-created customer too, until an admin lifts it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.conftest import Api, data
from tests.delivery.support import create_category, create_customer, explain, raw_id, rows, send
from tests.providers.peers import SmsApi
from tests.providers.test_sms_feedback import app_client, post
from tidings.core.enums import DeliveryReason, DeliveryStatus, Role, SuppressionReason
from tidings.core.models import Customer, Suppression
from tidings.schema.ids import to_global_id

PHONE = "+15550009876"
EMAIL = "Bea.Bounce@Example.net"
HARD = "suppressed: hard bounce"
LIST = """query($channel: String) { suppressions(channel: $channel) { nodes {
  id channel reason provider createdAt deliveryId liftedAt liftedBy liftReason } } }"""
LIFT = """mutation($i: LiftSuppressionInput!) { liftSuppression(input: $i) {
  suppression { id liftedAt liftedBy liftReason } errors { code field } } }"""


@pytest.fixture
def sms_peer() -> Iterator[SmsApi]:
    peer = SmsApi()
    yield peer
    peer.close()


@pytest.fixture
async def sms_app(db: str, sms_peer: SmsApi) -> AsyncIterator[Api]:
    async for api in app_client(db, sms_peer):
        yield api


async def setup(api: Api) -> tuple[str, str]:
    """An admin token and a customer with a phone and an email; "codes" goes by SMS and falls
    back to email, "alerts" goes by SMS with no fallback."""
    _, admin = await api.staff(Role.ADMIN)
    await create_category(
        api, admin, "codes", "TRANSACTIONAL", defaultChannels=["sms"], fallbackChannel="email"
    )
    await create_category(api, admin, "alerts", "TRANSACTIONAL", defaultChannels=["sms"])
    customer = await create_customer(api, admin, phone=PHONE, email=EMAIL)
    return admin, customer["id"]


async def bounce(api: Api, admin: str, customer: str, status: str = "failed") -> object:
    """Send an SMS, hand it to the peer, and have the vendor report it `status`."""
    message = await send(api, admin, "alerts", customer)
    assert await api.runtime.worker.run_once() == 1
    [row] = await rows(message)
    assert row.status is DeliveryStatus.SENT and row.provider_id
    answer = await post(api, {"message_id": row.provider_id, "status": status})
    assert answer.status_code == 200, answer.text
    return row


async def test_a_hard_bounce_suppresses_and_the_next_send_takes_the_fallback(sms_app):
    api = sms_app
    admin, customer = await setup(api)
    bounced = await bounce(api, admin, customer)
    [kept] = await Suppression.all()
    assert (kept.channel, kept.reason, kept.delivery_id, kept.provider) == (
        "sms",
        SuppressionReason.HARD_BOUNCE,
        bounced.id,  # type: ignore[attr-defined]
        "http-sms",
    )
    assert len(kept.address_hash) == 64 and PHONE not in repr(kept.__dict__)

    message = await send(api, admin, "codes", customer)
    [row] = await rows(message)
    assert (row.channel, row.status) == ("email", DeliveryStatus.QUEUED)
    stopped = row.rules[2]
    assert (stopped["rule"], stopped["verdict"], stopped["channel"]) == (
        "NO_ADDRESS",
        "stop",
        "sms",
    )
    assert stopped["detail"] == f"{HARD}; trying fallback email"

    message = await send(api, admin, "alerts", customer)
    [row] = await rows(message)
    assert (row.channel, row.status, row.reason) == (
        "sms",
        DeliveryStatus.SUPPRESSED,
        DeliveryReason.NO_ADDRESS,
    )
    assert row.rules[-1]["detail"] == HARD

    explained = data(await explain(api, admin, customer, "alerts", "sms"))["explainDelivery"]
    assert (explained["status"], explained["reason"]) == ("SUPPRESSED", "NO_ADDRESS")
    assert explained["rules"][-1] == {
        "rule": "NO_ADDRESS",
        "verdict": "STOP",
        "detail": HARD,
        "channel": "sms",
    }
    explained = data(await explain(api, admin, customer, "codes", "sms"))["explainDelivery"]
    assert explained["channel"] == "email"  # (FAILED: no provider serves email in this app)
    assert explained["rules"][2]["detail"] == f"{HARD}; trying fallback email"


async def test_a_replayed_bounce_and_a_second_one_suppress_once(sms_app):
    api = sms_app
    admin, customer = await setup(api)
    row = await bounce(api, admin, customer)
    replay = await post(api, {"message_id": row.provider_id, "status": "failed"})  # type: ignore[attr-defined]
    assert replay.json() == {"recorded": 0, "duplicates": 1, "unmatched": 0}
    assert await Suppression.all().count() == 1


async def test_a_send_queued_before_the_bounce_is_stopped_before_it_goes(sms_app, sms_peer):
    api = sms_app
    admin, customer = await setup(api)
    first = await send(api, admin, "alerts", customer)
    assert await api.runtime.worker.run_once() == 1
    waiting = await send(api, admin, "alerts", customer)  # decided before the bounce: QUEUED
    [sent] = await rows(first)
    assert (
        await post(api, {"message_id": sent.provider_id, "status": "failed"})
    ).status_code == 200
    texts = len(sms_peer.requests)

    await api.runtime.worker.run_once()
    [held] = await rows(waiting)
    assert (held.status, held.reason) == (DeliveryStatus.SUPPRESSED, DeliveryReason.NO_ADDRESS)
    assert held.rules[-1]["detail"] == HARD
    assert len(sms_peer.requests) == texts  # nothing more reached the number


async def test_an_erased_customer_re_created_with_the_address_is_still_suppressed(sms_app):
    api = sms_app
    admin, customer = await setup(api)
    await bounce(api, admin, customer)

    await Customer.filter(id=raw_id(customer)).delete()  # erased: its deliveries go with it
    assert await Suppression.all().count() == 1  # kept: it names no one
    again = await create_customer(api, admin, phone=PHONE)
    [row] = await rows(await send(api, admin, "alerts", again["id"]))
    assert (row.status, row.reason) == (DeliveryStatus.SUPPRESSED, DeliveryReason.NO_ADDRESS)
    assert row.rules[-1]["detail"] == HARD
    [listed] = data(await api.gql(LIST, token=admin))["suppressions"]["nodes"]
    assert listed["deliveryId"] is not None  # the id of a delivery that went with its customer


async def test_an_admin_lifts_a_suppression_with_a_reason_and_sends_go_again(sms_app):
    api = sms_app
    admin_id, admin = await api.staff(Role.ADMIN)
    _, marketer = await api.staff(Role.MARKETER)
    _, customer = await setup(api)
    first = await bounce(api, admin, customer)
    [listed] = data(await api.gql(LIST, token=marketer))["suppressions"]["nodes"]
    assert listed["reason"] == "HARD_BOUNCE" and listed["liftedAt"] is None
    assert listed["deliveryId"] == to_global_id("Delivery", first.id)  # type: ignore[attr-defined]
    text = json.dumps(listed)
    assert PHONE not in text and "5550009876" not in text

    for reason, code in (("", "REQUIRED"), ("   ", "REQUIRED"), ("x" * 501, "TOO_LONG")):
        answer = data(await api.gql(LIFT, {"i": {"id": listed["id"], "reason": reason}}, admin))
        assert answer["liftSuppression"]["errors"] == [{"code": code, "field": "reason"}]
    unknown = {"id": to_global_id("Suppression", uuid.uuid4()), "reason": "r"}
    answer = data(await api.gql(LIFT, {"i": unknown}, admin))["liftSuppression"]
    assert answer["errors"] == [{"code": "NOT_FOUND", "field": "id"}]

    lift = {"i": {"id": listed["id"], "reason": "  The customer fixed the phone  "}}
    lifted = data(await api.gql(LIFT, lift, admin))["liftSuppression"]
    assert lifted["errors"] == []
    assert lifted["suppression"]["liftedBy"] == to_global_id("Staff", admin_id)
    assert lifted["suppression"]["liftReason"] == "The customer fixed the phone"
    again = data(await api.gql(LIFT, lift, admin))["liftSuppression"]
    assert again["errors"] == [{"code": "ALREADY_LIFTED", "field": "id"}]

    [row] = await rows(await send(api, admin, "alerts", customer))
    assert (row.channel, row.status) == ("sms", DeliveryStatus.QUEUED)
    await api.runtime.worker.run_once()
    assert (await rows(row.message_id))[0].status is DeliveryStatus.SENT
    kept = await Suppression.get(id=raw_id(listed["id"]))  # the history stays
    assert (kept.lifted_by, kept.lift_reason) == (
        f"staff:{admin_id}",
        "The customer fixed the phone",
    )

    await bounce(api, admin, customer)  # a new hard bounce suppresses again, in a row of its own
    nodes = data(await api.gql(LIST, {"channel": "sms"}, marketer))["suppressions"]["nodes"]
    assert [(n["liftedAt"] is None, n["reason"]) for n in nodes] == [
        (True, "HARD_BOUNCE"),
        (False, "HARD_BOUNCE"),
    ]
    assert data(await api.gql(LIST, {"channel": "email"}, marketer))["suppressions"]["nodes"] == []
