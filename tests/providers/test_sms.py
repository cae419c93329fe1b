"""The HTTP SMS provider against a local HTTP endpoint."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import pytest

from tests.providers.conftest import outbound
from tests.providers.peers import SmsApi, free_port
from tidings.plugins import (
    InvalidAddressError,
    PermanentDeliveryError,
    ProviderUnavailableError,
    TransientDeliveryError,
)
from tidings.providers.sms import HttpSmsProvider, HttpSmsSettings

NUMBER = "+447700900123"


async def test_a_message_is_posted_as_the_api_expects(
    sms: HttpSmsProvider, sms_api: SmsApi
) -> None:
    [result] = await sms.send([outbound(1, NUMBER, title="Code", body="Yours is 123456")])

    assert result.ok, result.error
    assert result.provider_id == "sms-1"
    [request] = sms_api.requests
    assert request["path"] == "/v1/messages"
    assert request["json"] == {
        "to": NUMBER,
        "from": "Tidings",
        "body": "Code\nYours is 123456",
        "reference": "dlv-0001",
    }
    assert request["headers"]["idempotency-key"] == "dlv-0001"
    assert request["headers"]["authorization"] == f"Bearer {sms_api.api_key}"
    assert request["headers"]["content-type"] == "application/json"


async def test_without_a_title_the_body_goes_alone(sms: HttpSmsProvider, sms_api: SmsApi) -> None:
    await sms.send([outbound(1, NUMBER, title="", body="Just this")])

    assert sms_api.requests[0]["json"]["body"] == "Just this"


async def test_a_retry_carries_the_same_idempotency_key(
    sms: HttpSmsProvider, sms_api: SmsApi
) -> None:
    sms_api.script[NUMBER] = [(500, {}, {"error": "boom"}), (201, {}, {"id": "sms-late"})]

    first = await sms.send([outbound(5, NUMBER)])
    second = await sms.send([outbound(5, NUMBER)])

    assert isinstance(first[0].error, TransientDeliveryError)
    assert second[0].ok and second[0].provider_id == "sms-late"
    assert [r["headers"]["idempotency-key"] for r in sms_api.requests] == ["dlv-0005", "dlv-0005"]


def http_date(seconds_ahead: int) -> str:
    return email.utils.formatdate(time.time() + seconds_ahead, usegmt=True)


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected", "retry_after"),
    [
        (
            400,
            {},
            {"error": {"code": "invalid_number", "message": f"{NUMBER} is bad"}},
            InvalidAddressError,
            None,
        ),
        (404, {}, {"error": "invalid_number"}, InvalidAddressError, None),
        (422, {}, {"code": "invalid_number"}, InvalidAddressError, None),
        (400, {}, {"error": {"code": "body_too_long"}}, PermanentDeliveryError, None),
        (403, {}, {"error": "destination_blocked"}, PermanentDeliveryError, None),
        (429, {"Retry-After": "17"}, {"error": "slow_down"}, TransientDeliveryError, 17.0),
        (503, {"Retry-After": "30"}, {}, ProviderUnavailableError, 30.0),
        (500, {}, {"error": "boom"}, ProviderUnavailableError, None),
        (502, {}, "not json at all", ProviderUnavailableError, None),
    ],
)
async def test_answers_map_to_error_classes(
    sms: HttpSmsProvider,
    sms_api: SmsApi,
    status: int,
    headers: dict[str, str],
    body: Any,
    expected: type,
    retry_after: float | None,
) -> None:
    sms_api.script[NUMBER] = [(status, headers, body)]

    [result] = await sms.send([outbound(1, NUMBER)])

    assert result.ok is False
    assert type(result.error) is expected
    assert str(status) in result.error.message
    assert NUMBER not in result.error.message
    if issubclass(expected, TransientDeliveryError):
        assert result.error.retry_after == retry_after


async def test_retry_after_as_an_http_date(sms: HttpSmsProvider, sms_api: SmsApi) -> None:
    sms_api.script[NUMBER] = [(429, {"Retry-After": http_date(90)}, {})]

    [result] = await sms.send([outbound(1, NUMBER)])

    assert isinstance(result.error, TransientDeliveryError)
    assert result.error.retry_after is not None and 80 <= result.error.retry_after <= 91


async def test_a_refused_key_is_transient_and_never_printed(sms_config: dict[str, str]) -> None:
    settings = HttpSmsSettings.from_config({**sms_config, "TIDINGS_SMS_API_KEY": "wrong-key-42"})
    assert settings is not None
    provider = HttpSmsProvider(settings)
    await provider.start()
    try:
        [result] = await provider.send([outbound(1, NUMBER)])
    finally:
        await provider.aclose()

    assert isinstance(result.error, TransientDeliveryError)
    assert "401" in result.error.message
    assert "wrong-key-42" not in result.error.message + repr(provider) + repr(settings)


async def test_accepted_without_an_id(sms: HttpSmsProvider, sms_api: SmsApi) -> None:
    sms_api.script[NUMBER] = [(202, {}, {"status": "queued"})]

    [result] = await sms.send([outbound(1, NUMBER)])

    assert result.ok and result.provider_id is None


async def test_an_unreachable_api_is_transient() -> None:
    settings = HttpSmsSettings.from_config(
        {
            "TIDINGS_SMS_URL": f"http://127.0.0.1:{free_port()}/send",
            "TIDINGS_SMS_API_KEY": "k",
            "TIDINGS_SMS_FROM": "T",
        }
    )
    assert settings is not None
    provider = HttpSmsProvider(settings)
    await provider.start()
    try:
        results = await provider.send([outbound(1, NUMBER), outbound(2, "+15550000002")])
    finally:
        await provider.aclose()

    assert [type(r.error) for r in results] == [ProviderUnavailableError] * 2


async def test_send_before_start_is_an_error(sms_config: dict[str, str]) -> None:
    settings = HttpSmsSettings.from_config(sms_config)
    assert settings is not None

    with pytest.raises(RuntimeError, match="start"):
        await HttpSmsProvider(settings).send([outbound(1, NUMBER)])


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({}, None),
        (
            {
                "TIDINGS_SMS_URL": "https://sms.example/v1",
                "TIDINGS_SMS_API_KEY": "k1",
                "TIDINGS_SMS_FROM": "Shop",
            },
            None,
        ),
        (
            {
                "TIDINGS_SMS_URL": "sms.example",
                "TIDINGS_SMS_API_KEY": "k1",
                "TIDINGS_SMS_FROM": "Shop",
            },
            "TIDINGS_SMS_URL",
        ),
        (
            {"TIDINGS_SMS_URL": "https://sms.example/v1", "TIDINGS_SMS_FROM": "Shop"},
            "TIDINGS_SMS_API_KEY",
        ),
        (
            {"TIDINGS_SMS_URL": "https://sms.example/v1", "TIDINGS_SMS_API_KEY": "k1"},
            "TIDINGS_SMS_FROM",
        ),
    ],
)
def test_settings(config: dict[str, str], problem: str | None) -> None:
    if problem is not None:
        with pytest.raises(ValueError, match=problem):
            HttpSmsSettings.from_config(config)
        return
    settings = HttpSmsSettings.from_config(config)
    if not config:
        assert settings is None
        return
    assert settings is not None
    assert settings.api_key.reveal() == "k1"
    assert "k1" not in repr(settings)
