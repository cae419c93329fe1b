"""Erasure: eraseCustomer (ADMIN) and requestErasure (the customer, after the grace period).
Personal data goes from every table; the consent proof stays in minimal form and the
suppression list by keyed hash; the customer reads as not found everywhere; a crash after any
step is finished by erasing again (or by the worker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Api, data, make_settings
from tests.core.data_rights_support import Held, find_values, held_customer
from tests.core.support import admin, create_category, create_customer, only_error, raw_id
from tidings.api.app import create_app
from tidings.core.delivery.suppressed import suppressed_channels
from tidings.core.enums import DeliveryStatus, Role, SuppressionReason
from tidings.core.models import (
    AccessGrant,
    AuditEntry,
    Customer,
    CustomerEvent,
    Delivery,
    Device,
    Notification,
    PermissionEntry,
    Preference,
    Suppression,
)
from tidings.core.services.retention import DataUpkeep
from tidings.schema.ids import to_global_id

ERASE = """
mutation($c: ID!, $r: String!) {
  eraseCustomer(customerId: $c, reason: $r) { customerId errors { code field message } }
}
"""
REQUEST = "mutation { requestErasure { erasureDueAt erased errors { code field message } } }"
CUSTOMER = "query($c: ID!) { customer(id: $c) { id externalId erasureRequestedAt } }"
ME = "query { me { ... on Customer { id erasureRequestedAt } } }"
UPDATE = """
mutation($c: ID!) { updateCustomer(input: {id: $c, name: "X"}) { errors { code field } } }
"""


def gid(held: Held) -> str:
    return to_global_id("Customer", held.customer.id)


async def assert_erased(api: Api, held: Held) -> None:
    """Everything the erasure promises, read back from the database and through the API."""
    customer_id = held.customer.id
    assert await find_values(held.personal) == []
    row = await Customer.everything.get(id=customer_id)
    assert row.erased_at is not None and row.erasure_started_at is not None
    assert row.external_id == f"erased:{customer_id}"
    assert (row.name, row.email, row.phone, row.attributes) == (None, None, None, {})
    # The blind indexes went with the values: no keyed hash links the row to an address.
    indexes = await Customer.everything.filter(id=customer_id).values_list(
        "name_index", "email_index", "phone_index", "name_words", "address_keys"
    )
    assert [tuple(v or None for v in r) for r in indexes] == [(None,) * 5]
    assert not await Customer.filter(id=customer_id).exists()
    # Queued, deferred and digest-held deliveries are cancelled; the rest keep their status.
    statuses = dict(await Delivery.filter(customer_id=customer_id).values_list("id", "status"))
    for name in ("queued", "digest", "quiet"):
        assert statuses[held.deliveries[name]] == DeliveryStatus.CANCELLED
    assert statuses[held.deliveries["sent"]] == DeliveryStatus.SENT
    assert statuses[held.deliveries["suppressed"]] == DeliveryStatus.SUPPRESSED
    cancelled = await Delivery.get(id=held.deliveries["queued"])
    assert cancelled.reason == "ERASED"
    assert await Device.filter(customer_id=customer_id).count() == 0
    assert await Preference.filter(customer_id=customer_id).count() == 0
    assert await AccessGrant.filter(customer_id=customer_id).count() == 0
    assert await CustomerEvent.filter(customer_id=customer_id).count() == 0
    assert {
        (n.title, n.body, n.data) for n in await Notification.filter(customer_id=customer_id)
    } == {("", "", None)}
    # The consent proof: when, what and source kept; evidence a keyed hash of the address.
    hasher = api.runtime.hasher
    email, chat = held.customer.email, held.customer.attributes["chat"]
    entries = await PermissionEntry.filter(customer_id=customer_id).order_by("recorded_at")
    assert len(entries) == 2
    by_channel = {e.channel: e for e in entries}
    assert by_channel["email"].evidence == {
        "minimal": True,
        "addressHash": hasher.digest("email", email),
    }
    assert by_channel["email"].granted_at is not None
    assert by_channel["email"].source == "signup_form"
    assert by_channel["chat"].evidence == {
        "minimal": True,
        "addressHash": hasher.digest("chat", chat),
    }
    assert by_channel["chat"].withdrawn_at is not None
    # The suppression stays.
    assert await Suppression.filter(address_hash=hasher.digest("email", email)).count() == 1
    erased = await AuditEntry.filter(customer_id=customer_id, action="customer.erased")
    assert len(erased) == 1


async def test_erasing_leaves_no_personal_value_anywhere_but_keeps_the_proof(api: Api):
    staff_id, token = await admin(api)
    held = await held_customer(api.runtime.hasher)
    customer_token = api.customer_token(held.customer.id)
    links = api.runtime.links
    pages = [
        f"/unsubscribe/{links.unsubscribe_token(held.customer.id, 'news', 'email')}",
        f"/preferences/{links.preferences_token(held.customer.id, 0)}",
    ]
    await create_category(api, token, "news", defaultChannels=["email"])
    for page in pages:
        assert (await api.client.get(page)).status_code == 200, page
    assert await find_values(held.personal) != []  # the scan does find them before

    payload = data(await api.gql(ERASE, {"c": gid(held), "r": "GDPR request #12"}, token))
    assert payload["eraseCustomer"] == {"customerId": gid(held), "errors": []}
    await assert_erased(api, held)
    entry = await AuditEntry.get(customer_id=held.customer.id, action="customer.erased")
    assert (entry.actor_kind, entry.actor_id) == ("staff", staff_id)
    row = await Customer.everything.get(id=held.customer.id)
    assert row.erasure_reason == "GDPR request #12"

    # It reads as not found everywhere, and its token no longer works.
    assert data(await api.gql(CUSTOMER, {"c": gid(held)}, token))["customer"] is None
    update = data(await api.gql(UPDATE, {"c": gid(held)}, token))["updateCustomer"]
    assert only_error(update)["code"] == "NOT_FOUND"
    refused = await api.gql(ME, token=customer_token)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for page in pages:  # links in old messages: the same 404 as any invalid link
        assert (await api.client.get(page)).status_code == 404, page
    # Erasing it again: it is not found.
    again = data(await api.gql(ERASE, {"c": gid(held), "r": "again"}, token))["eraseCustomer"]
    assert only_error(again)["code"] == "NOT_FOUND"
    assert await AuditEntry.filter(action="customer.erased").count() == 1


async def test_a_recreated_customer_with_the_same_address_is_still_suppressed(api: Api):
    _, token = await admin(api)
    held = await held_customer(api.runtime.hasher)
    email, external_id = held.customer.email, held.customer.external_id
    assert (
        data(await api.gql(ERASE, {"c": gid(held), "r": "asked"}, token))["eraseCustomer"]["errors"]
        == []
    )
    # The externalId is free again; the address is still suppressed.
    again = await create_customer(api, token, externalId=external_id, email=email)
    found = await suppressed_channels(api.runtime.hasher, [(raw_id(again["id"]), email, None, {})])
    assert found == {raw_id(again["id"]): {"email": SuppressionReason.HARD_BOUNCE}}


STEPS = 7


@pytest.mark.parametrize("k", range(STEPS))
async def test_a_crash_after_any_step_is_finished_by_erasing_again(api: Api, k: int):
    _, token = await admin(api)
    held = await held_customer(api.runtime.hasher)
    erasure = api.runtime.services.erasure
    assert len(erasure.step_names) == STEPS
    await erasure.run(held.customer.id, reason="first try", actor=None, until=k)
    if k >= 1:  # started: already gone for every lookup
        assert not await Customer.filter(id=held.customer.id).exists()
    payload = data(await api.gql(ERASE, {"c": gid(held), "r": "retry"}, token))["eraseCustomer"]
    assert payload["errors"] == []
    await assert_erased(api, held)
    # The steps again change nothing.
    await erasure.run(held.customer.id, reason="third", actor=None)
    await assert_erased(api, held)


async def test_the_worker_finishes_an_erasure_a_crash_interrupted(api: Api):
    held = await held_customer(api.runtime.hasher)
    erasure = api.runtime.services.erasure
    await erasure.run(held.customer.id, reason="crashed", actor=None, until=3)
    assert await DataUpkeep(erasure, None).run_once() == 1
    await assert_erased(api, held)
    assert await DataUpkeep(erasure, None).run_once() == 0


@pytest.mark.parametrize("role", [Role.MARKETER, Role.AGENT, Role.AUDITOR])
async def test_staff_other_than_admin_may_not_erase(api: Api, role: Role):
    held = await held_customer(api.runtime.hasher)
    _, token = await api.staff(role)
    result = await api.gql(ERASE, {"c": gid(held), "r": "no"}, token)
    assert result["data"]["eraseCustomer"] is None
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await Customer.filter(id=held.customer.id).exists()


async def test_a_customer_may_not_erase_another_nor_call_erase_customer(api: Api):
    held = await held_customer(api.runtime.hasher)
    other = await held_customer(api.runtime.hasher)
    result = await api.gql(
        ERASE, {"c": gid(other), "r": "no"}, api.customer_token(held.customer.id)
    )
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await Customer.filter(id=other.customer.id).exists()
    # requestErasure has no id: a customer can only ever ask for its own.
    _, staff = await admin(api)
    refused = await api.gql(REQUEST, token=staff)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await Customer.filter(id=other.customer.id).exists()


@pytest.mark.parametrize(
    ("customer", "reason", "code", "field"),
    [
        ("unknown", "why", "NOT_FOUND", "customerId"),
        ("not-an-id", "why", "NOT_FOUND", "customerId"),
        ("known", "  ", "REQUIRED", "reason"),
        ("known", "x" * 1001, "TOO_LONG", "reason"),
    ],
)
async def test_erasure_refuses_what_it_cannot_do(api: Api, customer, reason, code, field):
    _, token = await admin(api)
    held = await held_customer(api.runtime.hasher)
    ids = {
        "unknown": to_global_id("Customer", held.customer.id.__class__(int=7)),
        "not-an-id": "nonsense",
        "known": gid(held),
    }
    payload = data(await api.gql(ERASE, {"c": ids[customer], "r": reason}, token))
    error = only_error(payload["eraseCustomer"])
    assert (error["code"], error["field"]) == (code, field)
    assert await Customer.filter(id=held.customer.id).exists()


async def test_a_request_without_grace_is_carried_out_at_once(api: Api):
    held = await held_customer(api.runtime.hasher)
    token = api.customer_token(held.customer.id)
    payload = data(await api.gql(REQUEST, token=token))["requestErasure"]
    assert payload["erased"] is True and payload["errors"] == []
    await assert_erased(api, held)
    requested = await AuditEntry.get(action="customer.erasure_requested")
    assert (requested.actor_kind, requested.actor_id) == ("customer", held.customer.id)
    erased = await AuditEntry.get(action="customer.erased")
    assert (erased.actor_kind, erased.actor_id) == ("customer", held.customer.id)
    # The token used is dead now.
    again = await api.gql(REQUEST, token=token)
    assert again["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_request_waits_for_the_grace_period_then_the_worker_erases(db: str):
    app = create_app(make_settings(db, TIDINGS_ERASURE_GRACE_DAYS="3"), manage_database=False)
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        api = Api(client=client, app=app)
        held = await held_customer(api.runtime.hasher)
        token = api.customer_token(held.customer.id)
        first = data(await api.gql(REQUEST, token=token))["requestErasure"]
        assert first["erased"] is False
        due = datetime.fromisoformat(first["erasureDueAt"])
        assert (
            timedelta(days=3) - timedelta(minutes=1) < due - datetime.now(UTC) <= timedelta(days=3)
        )
        # Asking again keeps the first time; the request shows on the customer.
        second = data(await api.gql(REQUEST, token=token))["requestErasure"]
        assert second["erasureDueAt"] == first["erasureDueAt"]
        me = data(await api.gql(ME, token=token))["me"]
        assert me["erasureRequestedAt"] is not None
        _, staff = await admin(api)
        seen = data(await api.gql(CUSTOMER, {"c": gid(held)}, staff))["customer"]
        assert seen["erasureRequestedAt"] == me["erasureRequestedAt"]
        assert await AuditEntry.filter(action="customer.erasure_requested").count() == 1

        upkeep = DataUpkeep(api.runtime.services.erasure, None)
        assert await upkeep.run_once(datetime.now(UTC) + timedelta(days=2)) == 0
        assert await Customer.filter(id=held.customer.id).exists()
        assert await upkeep.run_once(datetime.now(UTC) + timedelta(days=3, minutes=1)) == 1
        await assert_erased(api, held)
    app.state.runtime.templates.close()


async def test_a_delivery_a_worker_holds_is_cancelled_by_its_own_recheck(api: Api):
    _, token = await admin(api)
    await create_category(api, token, "news", kind="TRANSACTIONAL", defaultChannels=["email"])
    held = await held_customer(api.runtime.hasher)
    queued = held.deliveries["queued"]
    now = datetime.now(UTC)
    await Delivery.filter(id=queued).update(locked_until=now + timedelta(minutes=2))
    payload = data(await api.gql(ERASE, {"c": gid(held), "r": "asked"}, token))
    assert payload["eraseCustomer"]["errors"] == []
    # The erasure leaves the leased row to its worker...
    assert (await Delivery.get(id=queued)).status == DeliveryStatus.QUEUED
    # ... whose re-check finds no customer and cancels it.
    await api.runtime.worker.pipeline.run([await Delivery.get(id=queued)], now)
    row = await Delivery.get(id=queued)
    assert (row.status, row.reason, row.locked_until) == (DeliveryStatus.CANCELLED, "ERASED", None)
