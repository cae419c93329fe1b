"""The built-in SMS provider hears back (issue 12, item 4): the vendor's signed receipts and
replies at `POST /feedback/http-sms`, STOP and START, and the opt-out hint on marketing SMS.
The real app sends through the local SMS API peer; the vendor's webhooks are signed here as
the vendor signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Api, make_settings
from tests.delivery.support import (
    create_category,
    create_customer,
    grant,
    raw_id,
    rows,
    send,
    set_preference,
)
from tests.providers.peers import SmsApi
from tidings.api.app import create_app
from tidings.core.enums import GrantStatus, Role
from tidings.core.models import DeliveryEvent, InboundReply, PermissionEntry, PermissionState
from tidings.plugins import FeedbackKind, FeedbackRejected, FeedbackRequest
from tidings.providers.sms_feedback import parse, stop_hint, verify, with_stop_hint

WEBHOOK_SECRET = "sms-webhook-secret-0123"
PHONE = "+15550001234"


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def sms_peer() -> Iterator[SmsApi]:
    peer = SmsApi()
    yield peer
    peer.close()


async def app_client(db: str, peer: SmsApi, **settings: str) -> AsyncIterator[Api]:
    config = {
        "TIDINGS_IN_PROCESS_WORKER": "false",
        "TIDINGS_SMS_URL": f"{peer.url}/v1/messages",
        "TIDINGS_SMS_API_KEY": peer.api_key,
        "TIDINGS_SMS_FROM": "Shop",
        "TIDINGS_SMS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        **settings,
    }
    app = create_app(make_settings(db, **config), manage_database=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield Api(client=c, app=app)
    await app.state.runtime.registry.aclose()


@pytest.fixture
async def sms_app(db: str, sms_peer: SmsApi) -> AsyncIterator[Api]:
    async for api in app_client(db, sms_peer):
        yield api


@pytest.fixture
async def hinted_app(db: str, sms_peer: SmsApi) -> AsyncIterator[Api]:
    async for api in app_client(db, sms_peer, TIDINGS_SMS_STOP_HINT="Text NO to stop"):
        yield api


async def setup(api: Api, locale: str = "en") -> tuple[str, str]:
    """An admin token and a customer with a phone, granted marketing SMS and email."""
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "deals", "MARKETING", defaultChannels=["sms"])
    await create_category(api, admin, "tips", "MARKETING", defaultChannels=["sms"])
    await create_category(api, admin, "codes", "TRANSACTIONAL", defaultChannels=["sms"])
    customer = (
        await create_customer(api, admin, phone=PHONE, email="ann@example.net", locale=locale)
    )["id"]
    for category in ("deals", "tips"):
        await grant(api, admin, customer, category, "sms")
        await grant(api, admin, customer, category, "email")
        await set_preference(api, admin, customer, category, ["sms"], "REALTIME")
    await grant(api, admin, customer, "codes", "sms")
    return admin, customer


async def post(api: Api, payload: Any, *, signature: str | None = "good") -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json"}
    if signature == "good":
        headers["X-Tidings-Signature"] = sign(body)
    elif signature is not None:
        headers["X-Tidings-Signature"] = signature
    return await api.client.post("/feedback/http-sms", content=body, headers=headers)


async def sent_text(api: Api, peer: SmsApi, admin: str, customer: str, category: str) -> str:
    await send(api, admin, category, customer, title="Deal", body="Sale today")
    assert await api.runtime.worker.run_once() == 1
    return peer.requests[-1]["json"]["body"]


async def states(customer: str) -> dict[tuple[str, str], GrantStatus]:
    found = await PermissionState.filter(customer_id=raw_id(customer))
    return {(s.channel, s.category): s.status for s in found}


# --- receipts -----------------------------------------------------------------------------


async def test_a_signed_receipt_delivers_and_a_failure_is_kept_as_a_hard_bounce(sms_app, sms_peer):
    api = sms_app
    admin, customer = await setup(api)
    first = await send(api, admin, "deals", customer)
    second = await send(api, admin, "codes", customer)
    while await api.runtime.worker.run_once():
        pass
    [delivered] = await rows(first)
    [failed] = await rows(second)
    assert delivered.provider_id and failed.provider_id  # the peer's ids, "sms-<n>"

    answer = await post(api, {"message_id": delivered.provider_id, "status": "delivered"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["recorded"] == 1
    [after] = await rows(first)
    assert after.status.value == "DELIVERED" and after.delivered_at is not None

    receipt = {"message_id": failed.provider_id, "status": "failed", "error_code": "30003"}
    assert (await post(api, receipt)).json()["recorded"] == 1
    [event] = await DeliveryEvent.filter(delivery_id=failed.id)
    assert (event.kind, event.permanent, event.detail, event.provider) == (
        FeedbackKind.BOUNCED.value,
        True,
        "error_code 30003",
        "http-sms",
    )


@pytest.mark.parametrize(
    "signature", [None, "", "sha256=" + "0" * 64, "sha256=bad", sign(b"{}"), "md5=x"]
)
async def test_unsigned_or_badly_signed_feedback_is_401_and_records_nothing(
    sms_app, sms_peer, signature
):
    api = sms_app
    admin, customer = await setup(api)
    message = await send(api, admin, "deals", customer)
    await api.runtime.worker.run_once()
    [row] = await rows(message)
    receipt = {"message_id": row.provider_id, "status": "delivered"}
    answer = await post(api, receipt, signature=signature)
    assert answer.status_code == 401
    assert PHONE not in answer.text
    stop = await post(api, {"from": PHONE, "text": "STOP"}, signature=signature)
    assert stop.status_code == 401
    assert await DeliveryEvent.all().count() == 0
    assert (await states(customer))[("sms", "deals")] is GrantStatus.GRANTED


async def test_without_a_webhook_secret_every_feedback_is_refused(db, sms_peer):
    async for api in app_client(db, sms_peer, TIDINGS_SMS_WEBHOOK_SECRET=""):
        answer = await post(api, {"from": PHONE, "text": "STOP"})
        assert answer.status_code == 401


@pytest.mark.parametrize(
    "payload",
    [
        {"message_id": "sms-1", "status": "queued"},
        {"message_id": "", "status": "delivered"},
        {"from": "5550001234", "text": "STOP"},
        {"from": PHONE, "text": 7},
        {"from": PHONE, "text": "STOP", "id": ""},
        {"from": PHONE, "text": "STOP", "id": ["in-1"]},
        {"from": PHONE, "text": "STOP", "id": "x" * 256},
        {"hello": "world"},
        [],
        "STOP",
    ],
)
async def test_a_signed_body_that_is_neither_a_receipt_nor_a_reply_is_400(sms_app, payload):
    answer = await post(sms_app, payload)
    assert answer.status_code == 400
    assert PHONE not in answer.text


# --- STOP and START -----------------------------------------------------------------------


async def test_stop_withdraws_marketing_sms_only_once_and_start_restores_it(sms_app):
    api = sms_app
    _, customer = await setup(api)
    answer = await post(api, {"from": PHONE, "text": "  td "})
    assert answer.status_code == 200 and answer.json()["recorded"] == 1
    after = await states(customer)
    assert after[("sms", "deals")] is after[("sms", "tips")] is GrantStatus.WITHDRAWN
    assert after[("sms", "codes")] is GrantStatus.GRANTED  # transactional
    assert after[("email", "deals")] is after[("email", "tips")] is GrantStatus.GRANTED
    stops = await PermissionEntry.filter(customer_id=raw_id(customer), source="sms_stop")
    assert sorted(e.category for e in stops) == ["deals", "tips"]
    for entry in stops:
        assert entry.evidence["text"] == "  td "
        assert entry.evidence["provider"] == "http-sms"
        assert entry.recorded_by == f"customer:{raw_id(customer)}"

    again = await post(api, {"from": PHONE, "text": "STOP"})
    assert again.status_code == 200 and again.json()["recorded"] == 0
    assert await PermissionEntry.filter(source="sms_stop").count() == 2

    start = await post(api, {"from": PHONE, "text": "Start"})
    assert start.json()["recorded"] == 1
    restored = await states(customer)
    assert restored[("sms", "deals")] is restored[("sms", "tips")] is GrantStatus.GRANTED
    starts = await PermissionEntry.filter(source="sms_start")
    assert sorted(e.category for e in starts) == ["deals", "tips"]
    assert (await post(api, {"from": PHONE, "text": "START"})).json()["recorded"] == 0


@pytest.mark.parametrize("text", ["STOP", "unsubscribe", "退订", " Td\n", "stop"])
async def test_every_stop_word_withdraws(sms_app, text):
    api = sms_app
    _, customer = await setup(api)
    await post(api, {"from": PHONE, "text": text})
    assert (await states(customer))[("sms", "deals")] is GrantStatus.WITHDRAWN


async def test_other_replies_and_other_numbers_change_nothing(sms_app):
    api = sms_app
    _, customer = await setup(api)
    for payload in (
        {"from": PHONE, "text": "stop please"},
        {"from": "+15559990000", "text": "STOP"},
        {"from": PHONE, "text": "START"},  # nothing stopped yet
    ):
        assert (await post(api, payload)).json()["recorded"] == 0
    assert set((await states(customer)).values()) == {GrantStatus.GRANTED}


async def test_start_restores_only_what_the_last_stop_withdrew(sms_app):
    api = sms_app
    admin, customer = await setup(api)
    await post(api, {"from": PHONE, "text": "STOP"})
    await grant(api, admin, customer, "tips", "sms")  # granted again by other means
    await post(api, {"from": PHONE, "text": "STOP"})  # withdraws tips alone
    await post(api, {"from": PHONE, "text": "START"})
    after = await states(customer)
    assert after[("sms", "tips")] is GrantStatus.GRANTED
    assert after[("sms", "deals")] is GrantStatus.WITHDRAWN


async def test_a_retried_start_never_undoes_a_newer_stop(sms_app):
    """STOP, START, STOP, then the vendor retries the START: by its id, a retry, so the
    customer stays opted out; the retry is counted as a duplicate."""
    api = sms_app
    _, customer = await setup(api)
    start = {"from": PHONE, "text": "START", "id": "in-2"}
    assert (await post(api, {"from": PHONE, "text": "STOP", "id": "in-1"})).json()["recorded"] == 1
    assert (await post(api, start)).json()["recorded"] == 1
    assert (await post(api, {"from": PHONE, "text": "STOP", "id": "in-3"})).json()["recorded"] == 1
    retried = (await post(api, start)).json()
    assert retried["recorded"] == 0 and retried["duplicates"] == 1
    after = await states(customer)
    assert after[("sms", "deals")] is after[("sms", "tips")] is GrantStatus.WITHDRAWN
    assert await PermissionEntry.filter(source="sms_start").count() == 2  # the first START


async def test_without_an_id_a_repeated_start_is_doubted_and_a_repeated_stop_is_not(sms_app):
    """No id, no time: the same START twice in a moment may be a retry, so the second one
    resumes nothing; a second STOP always acts."""
    api = sms_app
    admin, customer = await setup(api)
    await post(api, {"from": PHONE, "text": "STOP"})
    await post(api, {"from": PHONE, "text": "START"})
    await post(api, {"from": PHONE, "text": "STOP"})
    doubted = (await post(api, {"from": PHONE, "text": "START"})).json()
    assert doubted["recorded"] == 0 and doubted["duplicates"] == 1
    assert (await states(customer))[("sms", "deals")] is GrantStatus.WITHDRAWN
    await grant(api, admin, customer, "deals", "sms")
    assert (await post(api, {"from": PHONE, "text": "STOP"})).json()["recorded"] == 1
    assert (await states(customer))[("sms", "deals")] is GrantStatus.WITHDRAWN


async def test_replies_keep_no_number_and_no_text(sms_app):
    api = sms_app
    await setup(api)
    await post(api, {"from": PHONE, "text": "STOP"})
    await post(api, {"from": PHONE, "text": "STOP", "id": "in-9"})
    rows = await InboundReply.all().values()
    assert len(rows) == 2 and [r["windowed"] for r in rows].count(True) == 1
    for row in rows:
        assert PHONE not in str(row) and "STOP" not in str(row) and "in-9" not in str(row)


# --- the opt-out hint ---------------------------------------------------------------------


async def test_marketing_sms_end_with_the_hint_in_english(sms_app, sms_peer):
    api = sms_app
    admin, customer = await setup(api)
    assert await sent_text(api, sms_peer, admin, customer, "deals") == (
        "Deal\nSale today\nReply STOP to opt out"
    )
    assert await sent_text(api, sms_peer, admin, customer, "codes") == "Deal\nSale today"


async def test_marketing_sms_end_with_the_hint_in_chinese(sms_app, sms_peer):
    api = sms_app
    admin, customer = await setup(api, locale="zh-CN")
    assert (
        await sent_text(api, sms_peer, admin, customer, "deals") == "Deal\nSale today\n回复TD退订"
    )
    assert await sent_text(api, sms_peer, admin, customer, "codes") == "Deal\nSale today"


async def test_the_hint_setting_overrides_every_language(hinted_app, sms_peer):
    api = hinted_app
    admin, customer = await setup(api, locale="zh-CN")
    assert await sent_text(api, sms_peer, admin, customer, "deals") == (
        "Deal\nSale today\nText NO to stop"
    )
    assert await sent_text(api, sms_peer, admin, customer, "codes") == "Deal\nSale today"


# --- the parser, table-driven -------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "kind", "permanent", "detail"),
    [
        ({"message_id": "m1", "status": "delivered"}, FeedbackKind.DELIVERED, False, None),
        ({"message_id": "m1", "status": "failed"}, FeedbackKind.BOUNCED, True, "failed"),
        (
            {"message_id": "m1", "status": "undelivered", "error_code": "30005"},
            FeedbackKind.BOUNCED,
            False,
            "error_code 30005",
        ),
    ],
)
def test_receipts_parse(payload, kind, permanent, detail):
    [item] = parse(json.dumps(payload).encode())
    assert (item.kind, item.provider_id, item.permanent, item.detail) == (
        kind,
        "m1",
        permanent,
        detail,
    )


def test_verify_compares_the_whole_signature():
    from tidings.plugins import Secret

    body = b'{"from": "+15550001234", "text": "STOP"}'
    good = FeedbackRequest("POST", {"x-tidings-signature": sign(body)}, {}, body)
    verify(good, Secret(WEBHOOK_SECRET))
    with pytest.raises(FeedbackRejected):
        verify(good, Secret("another-secret"))
    with pytest.raises(FeedbackRejected):
        verify(good, None)


def test_the_hint_by_locale():
    marketing = {"unsubscribe_url": "https://t/u/x"}
    assert stop_hint("zh-TW") == stop_hint("zh_CN") == stop_hint("ZH") == "回复TD退订"
    assert stop_hint("fr-FR") == stop_hint("en") == "Reply STOP to opt out"
    assert with_stop_hint("Hi", {}, "en") == "Hi"
    assert with_stop_hint("Hi\nReply STOP to opt out", marketing, "en").count("STOP") == 1
