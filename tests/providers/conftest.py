"""Fixtures: the local peers, providers configured against them, and one `harness` per
built-in provider for the contract suite."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.providers.peers import FakeGoogle, SmsApi, SmtpSink, fcm_error, start_smtp
from tidings.plugins import OutboundMessage, Provider
from tidings.providers.fcm import FcmPushProvider, FcmSettings
from tidings.providers.sms import HttpSmsProvider, HttpSmsSettings
from tidings.providers.smtp import SmtpEmailProvider, SmtpSettings

SMTP_PASSWORD = "s3cret-smtp-pass"


def outbound(n: int, address: str, **overrides: Any) -> OutboundMessage:
    fields: dict[str, Any] = {
        "delivery_id": f"dlv-{n:04d}",
        "message_id": f"msg-{n:04d}",
        "channel": "email",
        "category": "news",
        "address": address,
        "title": f"Title {n}",
        "body": f"Body {n}",
    }
    fields.update(overrides)
    return OutboundMessage(**fields)


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    controller = start_smtp(sink)
    sink.port = controller.port  # type: ignore[attr-defined]
    yield sink
    controller.stop()


@pytest.fixture
def fake_google(rsa_key: rsa.RSAPrivateKey) -> Iterator[FakeGoogle]:
    peer = FakeGoogle(rsa_key)
    yield peer
    peer.close()


@pytest.fixture
def fcm_config(tmp_path: Path, fake_google: FakeGoogle) -> dict[str, str]:
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(fake_google.service_account()))
    return {"TIDINGS_FCM_CREDENTIALS": str(path), "TIDINGS_FCM_ENDPOINT": fake_google.url}


@pytest.fixture
async def fcm(fcm_config: dict[str, str]) -> AsyncIterator[FcmPushProvider]:
    settings = FcmSettings.from_config(fcm_config)
    assert settings is not None
    provider = FcmPushProvider(settings)
    await provider.start()
    yield provider
    await provider.aclose()


@pytest.fixture
def sms_api() -> Iterator[SmsApi]:
    peer = SmsApi()
    yield peer
    peer.close()


@pytest.fixture
def sms_config(sms_api: SmsApi) -> dict[str, str]:
    return {
        "TIDINGS_SMS_URL": f"{sms_api.url}/v1/messages",
        "TIDINGS_SMS_API_KEY": sms_api.api_key,
        "TIDINGS_SMS_FROM": "Tidings",
    }


@pytest.fixture
async def sms(sms_config: dict[str, str]) -> AsyncIterator[HttpSmsProvider]:
    settings = HttpSmsSettings.from_config(sms_config)
    assert settings is not None
    provider = HttpSmsProvider(settings)
    await provider.start()
    yield provider
    await provider.aclose()


@dataclass
class Harness:
    """A started provider against its peer, and what the contract suite needs to know."""

    provider: Provider
    address: Callable[[int], str]
    permanent_address: str
    transient_address: str
    seen_keys: Callable[[], list[str]]  # idempotency keys as the peer received them
    secrets: Callable[[], list[str]]  # what must never show in a repr or a log line


def smtp_harness(sink: SmtpSink, port: int) -> Harness:
    sink.rcpt_replies["blocked@example.net"] = "554 5.7.1 <blocked@example.net>: Rejected by policy"
    sink.rcpt_replies["busy@example.net"] = "451 4.3.0 <busy@example.net>: Try again later"
    settings = SmtpSettings.from_config(
        {
            "TIDINGS_SMTP_HOST": "127.0.0.1",
            "TIDINGS_SMTP_PORT": str(port),
            "TIDINGS_SMTP_SECURITY": "none",
            "TIDINGS_SMTP_FROM": "Shop <news@shop.example>",
            "TIDINGS_SMTP_USERNAME": "mailer",
            "TIDINGS_SMTP_PASSWORD": SMTP_PASSWORD,
        }
    )
    assert settings is not None
    provider = SmtpEmailProvider(settings)

    def keys() -> list[str]:
        return [r.message["Message-ID"].strip("<>").split("@")[0] for r in sink.received]

    return Harness(
        provider=provider,
        address=lambda n: f"customer{n}@example.net",
        permanent_address="blocked@example.net",
        transient_address="busy@example.net",
        seen_keys=keys,
        secrets=lambda: [SMTP_PASSWORD],
    )


def fcm_harness(provider: FcmPushProvider, google: FakeGoogle, private_pem: str) -> Harness:
    google.script["token-rejected"] = [
        (400, {}, fcm_error(400, "INVALID_ARGUMENT", "Invalid data payload", "INVALID_ARGUMENT"))
    ]
    google.script["token-throttled"] = [
        (429, {}, fcm_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", "QUOTA_EXCEEDED"))
    ]

    def keys() -> list[str]:
        return [r["json"]["message"]["data"]["delivery_id"] for r in google.requests]

    return Harness(
        provider=provider,
        address=lambda n: f"token-{n:04d}",
        permanent_address="token-rejected",
        transient_address="token-throttled",
        seen_keys=keys,
        secrets=lambda: [private_pem.splitlines()[3], *google.issued],
    )


def sms_harness(provider: HttpSmsProvider, api: SmsApi) -> Harness:
    api.script["+15550009999"] = [
        (403, {}, {"error": {"code": "destination_blocked", "message": "+15550009999 blocked"}})
    ]
    api.script["+15550008888"] = [(503, {"Retry-After": "7"}, {"error": "unavailable"})]
    return Harness(
        provider=provider,
        address=lambda n: f"+1555{n:07d}",
        permanent_address="+15550009999",
        transient_address="+15550008888",
        seen_keys=lambda: [r["headers"]["idempotency-key"] for r in api.requests],
        secrets=lambda: [api.api_key],
    )


@pytest.fixture(params=["smtp", "fcm", "http-sms"])
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> AsyncIterator[Harness]:
    cleanups: list[Callable[[], Any]] = []
    if request.param == "smtp":
        sink = SmtpSink()
        controller = start_smtp(sink, authenticator=sink.authenticator, auth_require_tls=False)
        cleanups.append(controller.stop)
        built = smtp_harness(sink, controller.port)
    elif request.param == "fcm":
        google = FakeGoogle(rsa_key)
        cleanups.append(google.close)
        account = google.service_account()
        path = tmp_path / "service-account.json"
        path.write_text(json.dumps(account))
        settings = FcmSettings.from_config(
            {"TIDINGS_FCM_CREDENTIALS": str(path), "TIDINGS_FCM_ENDPOINT": google.url}
        )
        assert settings is not None
        built = fcm_harness(FcmPushProvider(settings), google, account["private_key"])
    else:
        api = SmsApi()
        cleanups.append(api.close)
        settings_sms = HttpSmsSettings.from_config(
            {
                "TIDINGS_SMS_URL": api.url,
                "TIDINGS_SMS_API_KEY": api.api_key,
                "TIDINGS_SMS_FROM": "T",
            }
        )
        assert settings_sms is not None
        built = sms_harness(HttpSmsProvider(settings_sms), api)
    await built.provider.start()
    try:
        yield built
    finally:
        await built.provider.aclose()
        for cleanup in cleanups:
            cleanup()
