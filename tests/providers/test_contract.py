"""The provider contract (CONTRACT.md "Provider plugins"), checked over every built-in
provider against its real local peer."""

from __future__ import annotations

import logging

import pytest

from tests.providers.conftest import Harness, outbound
from tidings.plugins import (
    PermanentDeliveryError,
    Provider,
    SendResult,
    TransientDeliveryError,
)
from tidings.plugins.manager import BUILTIN_CHANNELS

PEER_LOGGERS = ("mail.log",)  # aiosmtpd's own log of what the test server received


def ours(record: logging.LogRecord) -> bool:
    return not record.name.startswith(PEER_LOGGERS)


async def test_declares_name_channel_and_batch_size(harness: Harness) -> None:
    provider = harness.provider
    assert isinstance(provider, Provider)
    assert provider.name in {"smtp", "fcm", "http-sms"}
    assert provider.channel in BUILTIN_CHANNELS
    assert isinstance(provider.max_batch, int)
    assert provider.max_batch >= 1


async def test_one_result_per_message_in_order(harness: Harness) -> None:
    addresses = [
        harness.address(0),
        harness.permanent_address,
        harness.address(2),
        harness.transient_address,
        harness.address(4),
    ]
    batch = [outbound(n, address) for n, address in enumerate(addresses)]

    results = await harness.provider.send(batch)

    assert len(results) == len(batch)
    assert all(isinstance(result, SendResult) for result in results)
    assert [result.ok for result in results] == [True, False, True, False, True]
    assert all(r.error is None for r in results if r.ok)
    assert isinstance(results[1].error, PermanentDeliveryError)
    assert isinstance(results[3].error, TransientDeliveryError)
    assert results[1].error.message and results[3].error.message
    # Accepted messages carry an id from the provider, distinct per message.
    ids = [results[n].provider_id for n in (0, 2, 4)]
    assert all(ids) and len(set(ids)) == 3


async def test_a_full_batch_is_delivered(harness: Harness) -> None:
    size = harness.provider.max_batch
    batch = [outbound(n, harness.address(n)) for n in range(size)]

    results = await harness.provider.send(batch)

    assert len(results) == size
    failed = [(n, r.error) for n, r in enumerate(results) if not r.ok]
    assert failed == []
    assert sorted(harness.seen_keys()) == sorted(m.delivery_id for m in batch)


@pytest.mark.parametrize(
    ("which", "expected", "unexpected"),
    [
        ("permanent", PermanentDeliveryError, TransientDeliveryError),
        ("transient", TransientDeliveryError, PermanentDeliveryError),
    ],
)
async def test_failures_map_to_the_right_class(
    harness: Harness, which: str, expected: type, unexpected: type
) -> None:
    address = harness.permanent_address if which == "permanent" else harness.transient_address

    [result] = await harness.provider.send([outbound(1, address)])

    assert result.ok is False
    assert result.provider_id is None
    assert isinstance(result.error, expected)
    assert not isinstance(result.error, unexpected)


async def test_delivery_id_is_the_idempotency_key_on_every_attempt(harness: Harness) -> None:
    first = [outbound(n, harness.address(n)) for n in range(3)]
    await harness.provider.send(first)
    retry = outbound(1, harness.address(1), title="Title 1 (again)")

    await harness.provider.send([retry])

    keys = harness.seen_keys()
    assert sorted(keys[:3]) == ["dlv-0000", "dlv-0001", "dlv-0002"]
    assert keys[3:] == ["dlv-0001"]


async def test_secrets_and_addresses_never_in_reprs_or_logs(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    addresses = [harness.address(7), harness.permanent_address, harness.transient_address]
    batch = [outbound(n, address) for n, address in enumerate(addresses)]

    results = await harness.provider.send(batch)

    assert [r.ok for r in results] == [True, False, False]
    logged = "\n".join(r.getMessage() for r in caplog.records if ours(r))
    printed = "\n".join(
        [
            repr(harness.provider),
            str(harness.provider),
            repr(getattr(harness.provider, "settings", None)),
            repr(batch),
            repr(results),
            *(r.error.message for r in results if r.error is not None),
        ]
    )
    secrets = harness.secrets()
    assert secrets and all(secrets)
    for secret in secrets:
        assert secret not in logged
        assert secret not in printed
    for address in addresses:
        assert address not in logged
        assert address not in printed
