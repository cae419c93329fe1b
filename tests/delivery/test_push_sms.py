"""Push through the real firebase-admin against a local fake of Google, SMS through a local
HTTP API, and the fallback between them; a channel nobody serves fails with NO_PROVIDER."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import Api, data, make_settings
from tests.delivery.support import create_category, create_customer, raw_id, rows, send
from tests.providers.peers import FakeGoogle, SmsApi, fcm_error
from tidings.api.app import create_app
from tidings.core.enums import DeliveryStatus, Role
from tidings.core.models import Device

GOOD = "good-registration-token-0001"
OTHER = "good-registration-token-0002"
DEAD = "dead-registration-token-0003"
PHONE = "+15550001234"
UNREGISTERED = (
    404,
    {},
    fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"),
)
REGISTER = """
mutation($i: RegisterDeviceInput!) { registerDevice(input: $i) { device { id } errors { code } } }
"""


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def google(rsa_key: rsa.RSAPrivateKey) -> Iterator[FakeGoogle]:
    peer = FakeGoogle(rsa_key)
    peer.script[DEAD] = [UNREGISTERED]
    yield peer
    peer.close()


@pytest.fixture
def sms_peer() -> Iterator[SmsApi]:
    peer = SmsApi()
    yield peer
    peer.close()


async def app_client(db: str, **settings: str) -> AsyncIterator[Api]:
    app = create_app(
        make_settings(db, TIDINGS_IN_PROCESS_WORKER="false", **settings), manage_database=False
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        yield Api(client=client, app=app)
    await app.state.runtime.registry.aclose()


@pytest.fixture
async def push_api(db: str, tmp_path: Path, google: FakeGoogle, sms_peer: SmsApi):
    account = tmp_path / "service-account.json"
    account.write_text(json.dumps(google.service_account()))
    async for api in app_client(
        db,
        TIDINGS_FCM_CREDENTIALS=str(account),
        TIDINGS_FCM_ENDPOINT=google.url,
        TIDINGS_SMS_URL=f"{sms_peer.url}/v1/messages",
        TIDINGS_SMS_API_KEY=sms_peer.api_key,
        TIDINGS_SMS_FROM="Shop",
    ):
        yield api


@pytest.fixture
async def bare_api(db: str) -> AsyncIterator[Api]:
    """No email, push or SMS provider configured: only the in-app inbox serves."""
    async for api in app_client(db):
        yield api


async def setup(api: Api, *tokens: str, phone: str | None = PHONE) -> tuple[str, str]:
    _, admin = await api.staff(Role.ADMIN)
    await create_category(
        api, admin, "alerts", "TRANSACTIONAL", defaultChannels=["push"], fallbackChannel="sms"
    )
    customer = (await create_customer(api, admin, name="Ann", phone=phone))["id"]
    for token in tokens:
        variables = {"i": {"customerId": customer, "platform": "ANDROID", "token": token}}
        assert data(await api.gql(REGISTER, variables, admin))["registerDevice"]["errors"] == []
    return admin, customer


async def test_a_registered_device_gets_the_push(push_api, google, sms_peer):
    api = push_api
    admin, customer = await setup(api, GOOD)
    message = await send(
        api, admin, "alerts", customer, title="Parcel", body="It is here", data={"n": 3}
    )
    assert await api.runtime.worker.run_once() == 1
    [row] = await rows(message)
    assert (row.status, row.reason, row.provider) == (DeliveryStatus.SENT, None, "fcm")
    [request] = google.requests
    sent = request["json"]["message"]
    assert sent["token"] == GOOD
    assert sent["notification"] == {"title": "Parcel", "body": "It is here"}
    preferences = sent["data"].pop("preferences_url")  # transactional: no unsubscribe link
    assert preferences.startswith(f"{api.runtime.settings.public_url}/preferences/")
    assert sent["data"] == {"n": "3", "delivery_id": str(row.id)}
    assert row.provider_id == f"projects/{google.project}/messages/1"
    assert google.token_requests == 1 and google.refusals == []
    assert sms_peer.requests == []


async def test_one_dead_device_among_live_ones_is_retired_and_the_push_counts(push_api, google):
    api = push_api
    admin, customer = await setup(api, GOOD, DEAD, OTHER)
    message = await send(api, admin, "alerts", customer)
    await api.runtime.worker.run_once()
    [row] = await rows(message)
    assert row.status is DeliveryStatus.SENT
    assert sorted(r["json"]["message"]["token"] for r in google.requests) == sorted(
        [GOOD, DEAD, OTHER]
    )
    assert sorted(d.token for d in await Device.all()) == [GOOD, OTHER]


async def test_unregistered_token_fails_retires_the_device_and_falls_back_to_sms(
    push_api, google, sms_peer
):
    api = push_api
    admin, customer = await setup(api, DEAD)
    message = await send(api, admin, "alerts", customer, title="Code", body="123456")
    worker = api.runtime.worker
    assert await worker.run_once() == 1
    push, fallback = await rows(message)
    assert (push.channel, push.status, push.reason) == (
        "push",
        DeliveryStatus.FAILED,
        "INVALID_ADDRESS",
    )
    assert await Device.filter(customer_id=raw_id(customer)).count() == 0
    assert (fallback.channel, fallback.status) == ("sms", DeliveryStatus.QUEUED)
    assert sms_peer.requests == []

    assert await worker.run_once() == 1
    push, fallback = await rows(message)
    assert (fallback.status, fallback.provider) == (DeliveryStatus.SENT, "http-sms")
    [request] = sms_peer.requests
    assert request["json"] == {
        "to": PHONE,
        "from": "Shop",
        "body": "Code\n123456",
        "reference": str(fallback.id),
    }
    assert request["headers"]["idempotency-key"] == str(fallback.id)
    assert fallback.provider_id == "sms-1"
    # The dead token is asked once; a later send to the customer goes straight to SMS.
    assert google.attempts[DEAD] == 1
    [row] = await rows(await send(api, admin, "alerts", customer))
    assert (row.channel, row.status) == ("sms", DeliveryStatus.QUEUED)
    assert row.rules[2]["rule"] == "NO_ADDRESS" and row.rules[2]["verdict"] == "stop"


async def test_no_device_and_no_phone_is_suppressed_with_no_address(push_api, google, sms_peer):
    api = push_api
    admin, customer = await setup(api, phone=None)
    [row] = await rows(await send(api, admin, "alerts", customer))
    assert (row.channel, row.status, row.reason) == ("sms", DeliveryStatus.SUPPRESSED, "NO_ADDRESS")
    assert await api.runtime.worker.run_once() == 0
    assert google.requests == [] and sms_peer.requests == []


async def test_a_channel_without_a_provider_fails_with_no_provider(bare_api):
    api = bare_api
    _, admin = await api.staff(Role.ADMIN)
    channels = data(await api.gql("{ channels { name providers } }", token=admin))["channels"]
    served = {c["name"]: c["providers"] for c in channels}
    assert served["email"] == [] and served["sms"] == [] and served["in_app"] == ["inbox"]

    await create_category(api, admin, "receipts", "TRANSACTIONAL", defaultChannels=["email"])
    await create_category(
        api, admin, "notices", "TRANSACTIONAL", defaultChannels=["sms"], fallbackChannel="in_app"
    )
    customer = (await create_customer(api, admin, email="ann@example.com", phone=PHONE))["id"]
    receipt = await send(api, admin, "receipts", customer)
    notice = await send(api, admin, "notices", customer, title="Notice")
    worker = api.runtime.worker
    assert await worker.run_once() == 2
    [row] = await rows(receipt)
    assert (row.status, row.reason, row.attempts) == (DeliveryStatus.FAILED, "NO_PROVIDER", 1)
    sms, inbox = await rows(notice)
    assert (sms.status, sms.reason) == (DeliveryStatus.FAILED, "NO_PROVIDER")
    assert (inbox.channel, inbox.status) == ("in_app", DeliveryStatus.QUEUED)
    assert await worker.run_once() == 1
    [_, inbox] = await rows(notice)
    assert inbox.status is DeliveryStatus.DELIVERED
