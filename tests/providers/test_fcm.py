"""The FCM provider: the real firebase-admin code path against a local fake of Google's
OAuth token endpoint and of the FCM v1 send endpoint."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import firebase_admin
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.providers.conftest import outbound
from tests.providers.peers import FakeGoogle, fcm_error
from tidings.plugins import (
    InvalidAddressError,
    PermanentDeliveryError,
    ProviderUnavailableError,
    TransientDeliveryError,
)
from tidings.providers.fcm import FcmPushProvider, FcmSettings


async def test_a_push_goes_out_as_fcm_expects(
    fcm: FcmPushProvider, fake_google: FakeGoogle
) -> None:
    message = outbound(
        1,
        "registration-token-1",
        channel="push",
        title="Hello",
        body="It shipped",
        data={"order": 42, "gift": True, "none": None, "items": [1, "a"], "from": "x"},
    )

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # Message(token=...) would warn
        [result] = await fcm.send([message])

    assert result.ok, result.error
    assert result.provider_id == "projects/tidings-test/messages/1"
    assert fake_google.token_requests == 1  # the JWT assertion was verified by the fake
    [request] = fake_google.requests
    assert request["headers"]["authorization"] == "Bearer ya29.test-access-1"
    sent = request["json"]["message"]
    assert sent["token"] == "registration-token-1"
    assert "fid" not in sent
    assert sent["notification"] == {"title": "Hello", "body": "It shipped"}
    assert sent["data"] == {
        "order": "42",
        "gift": "true",
        "none": "",
        "items": '[1,"a"]',
        "delivery_id": "dlv-0001",
    }
    assert sent["android"]["notification"]["tag"] == "dlv-0001"
    assert sent["apns"]["headers"]["apns-collapse-id"] == "dlv-0001"
    assert "validate_only" not in request["json"]


async def test_the_access_token_is_reused(fcm: FcmPushProvider, fake_google: FakeGoogle) -> None:
    for n in range(3):
        assert (await fcm.send([outbound(n, f"t{n}")]))[0].ok

    assert fake_google.token_requests == 1
    assert len(fake_google.requests) == 3


@pytest.mark.parametrize(
    ("status", "rpc", "text", "fcm_code", "expected"),
    [
        (404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED", InvalidAddressError),
        (403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH", InvalidAddressError),
        (
            400,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
            "INVALID_ARGUMENT",
            InvalidAddressError,
        ),
        (
            400,
            "INVALID_ARGUMENT",
            "Invalid data payload",
            "INVALID_ARGUMENT",
            PermanentDeliveryError,
        ),
        (
            401,
            "UNAUTHENTICATED",
            "APNs certificate rejected",
            "THIRD_PARTY_AUTH_ERROR",
            PermanentDeliveryError,
        ),
        (504, "DEADLINE_EXCEEDED", "Deadline exceeded", None, ProviderUnavailableError),
        (429, "RESOURCE_EXHAUSTED", "Too many requests", None, TransientDeliveryError),
    ],
)
async def test_errors_map_to_our_classes(
    fcm: FcmPushProvider,
    fake_google: FakeGoogle,
    status: int,
    rpc: str,
    text: str,
    fcm_code: str | None,
    expected: type,
) -> None:
    token = "token-under-test"
    fake_google.script[token] = [
        (status, {}, fcm_error(status, rpc, f"{text} ({token})", fcm_code))
    ]

    [result] = await fcm.send([outbound(1, token)])

    assert result.ok is False
    assert type(result.error) is expected
    assert token not in result.error.message


async def test_an_unregistered_token_fails_alone(
    fcm: FcmPushProvider, fake_google: FakeGoogle
) -> None:
    fake_google.script["gone"] = [
        (404, {}, fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"))
    ]

    results = await fcm.send([outbound(1, "alive-1"), outbound(2, "gone"), outbound(3, "alive-3")])

    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, InvalidAddressError)


@pytest.mark.parametrize(("hint", "expected"), [(None, 60.0), ("5", 60.0), ("120", 120.0)])
async def test_quota_exceeded_backs_off_at_least_a_minute(
    fcm: FcmPushProvider, fake_google: FakeGoogle, hint: str | None, expected: float
) -> None:
    headers = {"Retry-After": hint} if hint else {}
    fake_google.script["busy"] = [
        (429, headers, fcm_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", "QUOTA_EXCEEDED"))
    ]

    [result] = await fcm.send([outbound(1, "busy")])

    assert isinstance(result.error, TransientDeliveryError)
    assert result.error.retry_after == expected
    assert fake_google.attempts["busy"] == 1  # firebase-admin does not retry 429 itself


async def test_a_passing_503_is_absorbed_by_firebase_admins_retry(
    fcm: FcmPushProvider, fake_google: FakeGoogle
) -> None:
    unavailable = (503, {}, fcm_error(503, "UNAVAILABLE", "Try later", "UNAVAILABLE"))
    fake_google.script["flaky"] = [unavailable, (200, {}, {"name": "projects/p/messages/ok"})]

    [result] = await fcm.send([outbound(1, "flaky")])

    assert result.ok, result.error
    assert result.provider_id == "projects/p/messages/ok"
    assert fake_google.attempts["flaky"] == 2


async def test_a_lasting_503_is_transient_after_firebase_admins_retries(
    fcm: FcmPushProvider, fake_google: FakeGoogle
) -> None:
    fake_google.script["down"] = [
        (503, {}, fcm_error(503, "UNAVAILABLE", "Try later", "UNAVAILABLE"))
    ]

    [result] = await fcm.send([outbound(1, "down")])

    assert isinstance(result.error, TransientDeliveryError)
    assert fake_google.attempts["down"] == 5  # one try and firebase-admin's four retries


async def test_more_than_500_are_split(fcm: FcmPushProvider, fake_google: FakeGoogle) -> None:
    batch = [outbound(n, f"tok-{n}") for n in range(501)]

    results = await fcm.send(batch)

    assert len(results) == 501 and all(r.ok for r in results)
    assert len(fake_google.requests) == 501
    delivered = sorted(r["json"]["message"]["data"]["delivery_id"] for r in fake_google.requests)
    assert delivered == sorted(m.delivery_id for m in batch)


async def test_an_empty_token_is_invalid_without_a_request(
    fcm: FcmPushProvider, fake_google: FakeGoogle
) -> None:
    results = await fcm.send([outbound(1, " "), outbound(2, "fine")])

    assert isinstance(results[0].error, InvalidAddressError)
    assert results[1].ok
    assert len(fake_google.requests) == 1


async def test_a_refused_service_account_fails_the_batch_as_transient(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    account = FakeGoogle.service_account(_with_key(fake_google, impostor))
    path = tmp_path / "impostor.json"
    path.write_text(json.dumps(account))
    provider = provider_for(path, fake_google.url)
    await provider.start()
    try:
        with pytest.raises(TransientDeliveryError, match="access token"):
            await provider.send([outbound(1, "t")])
    finally:
        await provider.aclose()
    assert fake_google.refusals and fake_google.requests == []


async def test_each_provider_has_its_own_app_and_endpoint(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    peers = [FakeGoogle(rsa_key), FakeGoogle(rsa_key)]
    providers = []
    try:
        for n, peer in enumerate(peers):
            path = tmp_path / f"sa{n}.json"
            path.write_text(json.dumps(peer.service_account()))
            providers.append(provider_for(path, peer.url))
            await providers[-1].start()
        for n, provider in enumerate(providers):
            assert (await provider.send([outbound(n, f"only-{n}")]))[0].ok
        names = {provider._app.name for provider in providers}
    finally:
        for provider in providers:
            await provider.aclose()
        for peer in peers:
            peer.close()

    assert [[r["json"]["message"]["token"] for r in p.requests] for p in peers] == [
        ["only-0"],
        ["only-1"],
    ]
    assert len(names) == 2
    for name in names:  # aclose deleted each app
        with pytest.raises(ValueError):
            firebase_admin.get_app(name)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, None),
        ({"TIDINGS_FCM_CREDENTIALS": "/etc/sa.json"}, "https://fcm.googleapis.com"),
        (
            {
                "TIDINGS_FCM_CREDENTIALS": "/etc/sa.json",
                "TIDINGS_FCM_ENDPOINT": "http://proxy:8080/",
            },
            "http://proxy:8080",
        ),
        ({"TIDINGS_FCM_CREDENTIALS": "/etc/sa.json", "TIDINGS_FCM_ENDPOINT": "proxy"}, ValueError),
    ],
)
def test_settings(config: dict[str, str], expected: Any) -> None:
    if expected is ValueError:
        with pytest.raises(ValueError, match="TIDINGS_FCM_ENDPOINT"):
            FcmSettings.from_config(config)
        return
    settings = FcmSettings.from_config(config)
    assert (settings.endpoint if settings else None) == expected


def provider_for(path: Path, endpoint: str) -> FcmPushProvider:
    settings = FcmSettings.from_config(
        {"TIDINGS_FCM_CREDENTIALS": str(path), "TIDINGS_FCM_ENDPOINT": endpoint}
    )
    assert settings is not None
    return FcmPushProvider(settings)


class _with_key:
    def __init__(self, peer: FakeGoogle, key: rsa.RSAPrivateKey) -> None:
        self.private_key, self.project, self.client_email, self.url = (
            key,
            peer.project,
            peer.client_email,
            peer.url,
        )
