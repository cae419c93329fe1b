"""Consent checked again by the worker, through the policy engine: what stops a delivery
after its decision is recorded in its rules like any other decision, channel included."""

from __future__ import annotations

from datetime import timedelta

from tests.delivery.support import rows, send, set_preference, withdraw
from tests.delivery.test_digest_quiet import setup
from tidings.core.enums import DeliveryStatus


async def test_a_released_digest_records_its_new_rules_with_their_channel(mail_api, smtp):
    api = mail_api
    token, customer = await setup(api)  # ORDINARY: marketing is held for the daily digest
    message = await send(api, token, "promos", customer)
    [row] = await rows(message)
    await withdraw(api, token, customer, "promos")
    await api.runtime.worker.run_once(now=row.not_before + timedelta(seconds=1))
    [row] = await rows(message)
    assert (row.status, row.reason) == (DeliveryStatus.SUPPRESSED, "NO_PERMISSION")
    assert [r["rule"] for r in row.rules][-1] == "NO_PERMISSION"
    assert all(r.get("channel") == "email" for r in row.rules), row.rules
    assert smtp.received == []


async def test_a_queued_delivery_withdrawn_before_sending_says_why(mail_api, smtp):
    api = mail_api
    token, customer = await setup(api, tier="HIGH_VALUE")  # realtime: queued at once
    message = await send(api, token, "promos", customer)
    [row] = await rows(message)
    assert row.status is DeliveryStatus.QUEUED
    decided = list(row.rules)
    await withdraw(api, token, customer, "promos")
    assert await api.runtime.worker.run_once() == 1
    [row] = await rows(message)
    assert (row.status, row.reason) == (DeliveryStatus.SUPPRESSED, "NO_PERMISSION")
    assert row.rules[: len(decided)] == decided
    assert row.rules[len(decided) :] == [
        {
            "rule": "NO_PERMISSION",
            "verdict": "stop",
            "detail": "permission WITHDRAWN (api)",  # the ledger source that withdrew it
            "channel": "email",
        }
    ]
    assert smtp.received == []


async def test_a_preference_naming_no_channel_stops_a_queued_delivery(mail_api, smtp):
    """As when it is decided: a customer who keeps no channel for the category gets nothing."""
    api = mail_api
    token, customer = await setup(api, tier="HIGH_VALUE")
    message = await send(api, token, "promos", customer)
    await set_preference(api, token, customer, "promos", [])
    assert await api.runtime.worker.run_once() == 1
    [row] = await rows(message)
    assert (row.status, row.reason) == (DeliveryStatus.SUPPRESSED, "OPTED_OUT")
    assert row.rules[-1]["detail"] == "preference allows no channel"
    assert smtp.received == []
