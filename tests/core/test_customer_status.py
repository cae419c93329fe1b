"""Disabling a customer's account and enabling it again (core/services/customer_status.py),
through the API on both databases: its tokens stop, nothing is sent to it, its data stays,
and enabled again it works as before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import data
from tests.core.support import admin, create_category, create_customer, only_error, raw_id
from tests.delivery.support import explain, grant, rows, send
from tidings.core.enums import DeliveryStatus, Role
from tidings.core.models import AuditEntry, Customer, Notification, PermissionState
from tidings.core.policy import CategoryRule, Recipient, decide, recheck_queued
from tidings.core.policy.tiers import TierPolicy

DISABLE = """
mutation($c: ID!, $r: String) { disableCustomer(customerId: $c, reason: $r) {
  customer { id disabled disabledAt } errors { code field message } } }
"""
ENABLE = """
mutation($c: ID!) { enableCustomer(customerId: $c) {
  customer { id disabled disabledAt } errors { code field message } } }
"""
ISSUE = "mutation($c: ID!) { issueCustomerToken(customerId: $c) { token errors { code field } } }"
ME = "{ me { ... on Customer { id disabled } } }"
CUSTOMER = "query($c: ID!) { customer(id: $c) { id name disabled disabledAt } }"


async def _world(api):
    """An admin, a transactional in_app category, and a customer with a working token."""
    _, token = await admin(api)
    await create_category(api, token, "orders", kind="TRANSACTIONAL", defaultChannels=["in_app"])
    await create_category(api, token, "promos", defaultChannels=["in_app"])
    customer = await create_customer(api, token, name="Ada")
    await grant(api, token, customer["id"], "promos", "in_app")
    issued = data(await api.gql(ISSUE, {"c": customer["id"]}, token))["issueCustomerToken"]
    return token, customer, issued["token"]


async def _disable(api, token, customer_id, reason=None) -> dict:
    return data(await api.gql(DISABLE, {"c": customer_id, "r": reason}, token))["disableCustomer"]


async def _enable(api, token, customer_id) -> dict:
    return data(await api.gql(ENABLE, {"c": customer_id}, token))["enableCustomer"]


def _code(result: dict) -> str:
    return result["errors"][0]["extensions"]["code"]


async def test_a_disabled_customer_loses_its_tokens_and_gets_nothing_but_keeps_its_data(api):
    token, customer, own = await _world(api)
    assert data(await api.gql(ME, token=own))["me"] == {"id": customer["id"], "disabled": False}

    disabled = await _disable(api, token, customer["id"], "chargeback under review")
    assert disabled["errors"] == []
    assert disabled["customer"]["disabled"] is True and disabled["customer"]["disabledAt"]

    # Its token is refused, and no new one is issued (nor would a forged-fresh one work).
    assert _code(await api.gql(ME, token=own)) == "UNAUTHENTICATED"
    refused = data(await api.gql(ISSUE, {"c": customer["id"]}, token))["issueCustomerToken"]
    assert refused == {
        "token": None,
        "errors": [{"code": "CUSTOMER_DISABLED", "field": "customerId"}],
    }
    row = await Customer.get(id=raw_id(customer["id"]))
    fresh = api.customer_token(row.id, row.token_version)
    assert _code(await api.gql(ME, token=fresh)) == "UNAUTHENTICATED"

    # Nothing is sent, transactional or marketing, and the reason says why.
    for category in ("orders", "promos"):
        message = await send(api, token, category, customer["id"])
        [delivery] = await rows(message)
        assert (delivery.status, delivery.reason) == (
            DeliveryStatus.SUPPRESSED,
            "CUSTOMER_DISABLED",
        )
        assert delivery.rules == [
            {
                "rule": "CUSTOMER_DISABLED",
                "verdict": "stop",
                "detail": "the customer's account is disabled",
                "channel": "in_app",
            }
        ]
    explained = data(await explain(api, token, customer["id"], "orders", "in_app"))
    assert explained["explainDelivery"]["reason"] == "CUSTOMER_DISABLED"

    # The data stays: the profile, its grants; the admin still sees it, marked disabled.
    seen = data(await api.gql(CUSTOMER, {"c": customer["id"]}, token))["customer"]
    assert seen["name"] == "Ada" and seen["disabled"] is True
    assert await PermissionState.filter(customer_id=row.id).count() == 1

    entry = await AuditEntry.filter(action="customer.disabled").get()
    assert entry.customer_id == row.id and entry.actor_kind == "staff"
    assert entry.detail == {"reason": "chargeback under review"}


async def test_enabled_again_new_tokens_work_and_sends_resume(api):
    token, customer, own = await _world(api)
    await _disable(api, token, customer["id"])
    enabled = await _enable(api, token, customer["id"])
    assert enabled["errors"] == []
    assert enabled["customer"]["disabled"] is False and enabled["customer"]["disabledAt"] is None
    # The old token stays revoked; a new one works.
    assert _code(await api.gql(ME, token=own)) == "UNAUTHENTICATED"
    issued = data(await api.gql(ISSUE, {"c": customer["id"]}, token))["issueCustomerToken"]
    assert data(await api.gql(ME, token=issued["token"]))["me"]["disabled"] is False
    message = await send(api, token, "orders", customer["id"])
    [delivery] = await rows(message)
    assert delivery.status is DeliveryStatus.QUEUED
    assert await api.runtime.worker.run_once() == 1
    assert await Notification.filter(customer_id=raw_id(customer["id"])).count() == 1
    actions = await AuditEntry.all().order_by("id").values_list("action", flat=True)
    assert [a for a in actions if a in ("customer.disabled", "customer.enabled")] == [
        "customer.disabled",
        "customer.enabled",
    ]


async def test_a_delivery_queued_before_disabling_is_stopped_by_the_worker(api):
    token, customer, _ = await _world(api)
    message = await send(api, token, "orders", customer["id"])
    [delivery] = await rows(message)
    assert delivery.status is DeliveryStatus.QUEUED
    await _disable(api, token, customer["id"])
    assert await api.runtime.worker.run_once() == 1
    [delivery] = await rows(message)
    assert (delivery.status, delivery.reason) == (DeliveryStatus.SUPPRESSED, "CUSTOMER_DISABLED")
    assert delivery.rules[-1]["rule"] == "CUSTOMER_DISABLED"
    assert await Notification.filter(customer_id=raw_id(customer["id"])).count() == 0


async def test_disabling_twice_or_enabling_an_enabled_account_records_nothing_more(api):
    token, customer, _ = await _world(api)
    first = await _disable(api, token, customer["id"])
    again = await _disable(api, token, customer["id"], "again")
    assert again["errors"] == [] and again["customer"] == first["customer"]
    await _enable(api, token, customer["id"])
    assert (await _enable(api, token, customer["id"]))["errors"] == []
    assert await AuditEntry.filter(action="customer.disabled").count() == 1
    assert await AuditEntry.filter(action="customer.enabled").count() == 1


@pytest.mark.parametrize("role", [Role.MARKETER, Role.AGENT, Role.AUDITOR])
async def test_only_admin_disables_or_enables(api, role):
    _token, customer, own = await _world(api)
    _, other = await api.staff(role)
    for document in (DISABLE, ENABLE):
        result = await api.gql(document, {"c": customer["id"]}, other)
        assert _code(result) == "FORBIDDEN"
        assert result["data"] is None or all(v is None for v in result["data"].values())
    for document in (DISABLE, ENABLE):  # nor the customer itself
        assert _code(await api.gql(document, {"c": customer["id"]}, own)) == "FORBIDDEN"
    assert (await Customer.get(id=raw_id(customer["id"]))).disabled_at is None


async def test_an_unknown_customer_or_a_bad_reason_is_a_user_error(api):
    token, customer, _ = await _world(api)
    ghost = "Q3VzdG9tZXI6MDE5MzAwMDAtMDAwMC03MDAwLTgwMDAtMDAwMDAwMDAwMDAw"
    assert only_error(await _disable(api, token, ghost))["code"] == "NOT_FOUND"
    assert only_error(await _enable(api, token, ghost))["code"] == "NOT_FOUND"
    too_long = await _disable(api, token, customer["id"], "x" * 501)
    assert only_error(too_long)["field"] == "reason"
    assert (await Customer.get(id=raw_id(customer["id"]))).disabled_at is None


def test_the_engine_stops_a_disabled_account_first_even_for_required_categories():
    alert = CategoryRule("security", "TRANSACTIONAL", True, False, None, ("email",))
    recipient = Recipient("c1", "UTC", "ORDINARY", frozenset(), {}, None, disabled=True)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    decision = decide(alert, "email", recipient, TierPolicy("REALTIME", None, None), now)
    assert (decision.status, decision.reason) == (DeliveryStatus.SUPPRESSED, "CUSTOMER_DISABLED")
    assert [r.rule for r in decision.rules] == ["CUSTOMER_DISABLED"]
    rechecked = recheck_queued(alert, "email", recipient, now)
    assert rechecked.reason == "CUSTOMER_DISABLED"
    enabled = Recipient("c1", "UTC", "ORDINARY", frozenset({"email"}), {}, None)
    assert (
        decide(alert, "email", enabled, TierPolicy("REALTIME", None, None), now).status
        is DeliveryStatus.QUEUED
    )
