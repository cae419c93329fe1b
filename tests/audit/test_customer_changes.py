"""Consent, preference, profile and device changes each leave one entry, from every path."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.audit.support import actor, assert_no_pii, count, post, request_id, since
from tests.conftest import Api, data
from tests.core.support import admin, create_category, create_customer, raw_id
from tests.pages.support import grant, make_setup, shown_form
from tidings.core.enums import GrantStatus
from tidings.core.models import PermissionEntry
from tidings.core.services.sms_replies import stop

TOKEN = "fcm-token-" + "x" * 40

GRANT = """
mutation($input: GrantPermissionInput!) {
  grantPermission(input: $input) { grant { id } errors { code } }
}"""
WITHDRAW = """
mutation($input: WithdrawPermissionInput!) {
  withdrawPermission(input: $input) { grant { id } errors { code } }
}"""
SET_PREFERENCE = """
mutation($input: SetPreferenceInput!) { setPreference(input: $input) { errors { code } } }
"""
UPDATE = """
mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { errors { code } } }
"""
UPDATE_ME = "mutation($input: UpdateMeInput!) { updateMe(input: $input) { errors { code } } }"
REGISTER = """
mutation($input: RegisterDeviceInput!) {
  registerDevice(input: $input) { device { id } errors { code } }
}"""
REMOVE = "mutation($id: ID!) { removeDevice(id: $id) { errors { code } } }"
REVOKE_TOKENS = "mutation($id: ID) { revokeCustomerTokens(customerId: $id) { errors { code } } }"


async def test_api_grant_and_withdraw(api: Api) -> None:
    staff_id, token = await admin(api)
    await create_category(api, token, "news")
    customer = await create_customer(api, token, email="cg@example.com", name="Cee Gee")
    customer_id = raw_id(customer["id"])
    before = await count()
    variables = {
        "customerId": customer["id"], "channel": "email", "category": "news",
        "source": "signup_form", "evidence": {"ip": "192.0.2.7"},
    }  # fmt: skip
    granted = await post(api, GRANT, token, {"input": variables})
    variables.pop("evidence")
    withdrawn = await post(api, WITHDRAW, token, {"input": variables})
    first, second = await since(before)
    assert (first.action, second.action) == ("consent.grant", "consent.withdraw")
    for entry, response in ((first, granted), (second, withdrawn)):
        assert actor(entry) == f"staff:{staff_id}"
        assert entry.customer_id == customer_id
        assert entry.request_id == request_id(response)
        stored = await PermissionEntry.get(id=entry.targets["entry"])
        assert stored.customer_id == customer_id
    assert first.detail == {
        "channel": "email", "category": "news", "status": "GRANTED", "source": "signup_form",
    }  # fmt: skip
    assert second.detail["status"] == "WITHDRAWN"
    await assert_no_pii("cg@example.com", "Cee Gee", "192.0.2.7")


async def test_preference_and_profile_changes(api: Api) -> None:
    staff_id, token = await admin(api)
    await create_category(api, token, "news")
    customer = await create_customer(
        api, token, email="pp@example.com", phone="+14155550123", name="Pat Pref"
    )
    customer_id = raw_id(customer["id"])
    (created,) = [e for e in await since(0) if e.action == "customer.create"]
    assert created.customer_id == customer_id and actor(created) == f"staff:{staff_id}"
    assert created.detail == {"fields": ["attributes", "email", "externalId", "name", "phone"]}
    before = await count()
    preference = {
        "customerId": customer["id"], "category": "news", "channels": ["email"],
        "frequency": "DAILY_DIGEST", "quietHours": {"start": "22:00", "end": "07:00"},
    }  # fmt: skip
    set_response = await post(api, SET_PREFERENCE, token, {"input": preference})
    update_response = await post(
        api, UPDATE, token, {"input": {"id": customer["id"], "email": "new@example.com"}}
    )
    customer_token = api.customer_token(customer_id)
    me_response = await post(api, UPDATE_ME, customer_token, {"input": {"name": "Pat New"}})
    pref, update, me = await since(before)
    assert pref.action == "preference.update" and pref.customer_id == customer_id
    assert pref.detail == {
        "category": "news", "channels": ["email"], "frequency": "DAILY_DIGEST",
        "quietHours": True,
    }  # fmt: skip
    assert pref.request_id == request_id(set_response)
    assert "preference" in pref.targets
    assert (update.action, update.detail) == ("customer.update", {"fields": ["email"]})
    assert actor(update) == f"staff:{staff_id}"
    assert update.request_id == request_id(update_response)
    assert (me.action, me.detail) == ("customer.update", {"fields": ["name"]})
    assert actor(me) == f"customer:{customer_id}"
    assert me.request_id == request_id(me_response)
    await assert_no_pii("pp@example.com", "new@example.com", "+14155550123", "Pat Pref", "Pat New")


async def test_devices_and_token_revocation(api: Api) -> None:
    staff_id, token = await admin(api)
    customer = await create_customer(api, token, email="dv@example.com")
    customer_id = raw_id(customer["id"])
    other = await create_customer(api, token)
    customer_token = api.customer_token(customer_id)
    before = await count()
    registered = await post(
        api, REGISTER, customer_token, {"input": {"platform": "ANDROID", "token": TOKEN}}
    )
    device_id = data(registered.json())["registerDevice"]["device"]["id"]
    # The same token registered for another customer moves there: the entry says from whom.
    moved = await post(
        api,
        REGISTER,
        token,
        {"input": {"customerId": other["id"], "platform": "IOS", "token": TOKEN}},
    )
    removed = await post(api, REMOVE, token, {"id": device_id})
    revoked = await post(api, REVOKE_TOKENS, customer_token, {"id": None})
    first, second, third, fourth = await since(before)
    assert first.action == "device.register"
    assert actor(first) == f"customer:{customer_id}" and first.customer_id == customer_id
    assert first.targets == {"device": str(raw_id(device_id))}
    assert first.detail == {"platform": "ANDROID", "known": False}
    assert first.request_id == request_id(registered)
    assert second.action == "device.register" and second.customer_id == raw_id(other["id"])
    assert second.targets == {
        "device": str(raw_id(device_id)), "previous_customer": str(customer_id),
    }  # fmt: skip
    assert second.detail == {"platform": "IOS", "known": True}
    assert actor(second) == f"staff:{staff_id}" and second.request_id == request_id(moved)
    assert third.action == "device.remove" and third.customer_id == raw_id(other["id"])
    assert third.targets == {"device": str(raw_id(device_id))}
    assert third.request_id == request_id(removed)
    assert fourth.action == "customer.revoke_tokens" and fourth.customer_id == customer_id
    assert actor(fourth) == f"customer:{customer_id}"
    assert fourth.request_id == request_id(revoked)
    await assert_no_pii(TOKEN, "dv@example.com")


async def test_a_refused_change_records_nothing(api: Api) -> None:
    _, token = await admin(api)
    await create_category(api, token, "news")
    customer = await create_customer(api, token)
    before = await count()
    result = await api.gql(
        UPDATE, {"input": {"id": customer["id"], "email": "not an email"}}, token
    )
    assert data(result)["updateCustomer"]["errors"]
    result = await api.gql(
        GRANT,
        {"input": {"customerId": customer["id"], "channel": "email", "category": "nope",
                   "source": "api"}},
        token,
    )  # fmt: skip
    assert data(result)["grantPermission"]["errors"]
    assert await count() == before


async def test_the_page_one_click_and_stop_record_as_the_customer(api: Api) -> None:
    setup = await make_setup(api)
    await grant(api, setup.id, "email")
    await grant(api, setup.id, "sms")
    before = await count()
    page = await api.client.get(setup.path)
    assert page.status_code == 200
    (read,) = await since(before)
    assert read.action == "customer.read" and read.customer_id == setup.id
    assert read.detail == {"fields": ["name"], "operation": "preference_page"}
    assert actor(read) == f"customer:{setup.id}"
    assert read.request_id == request_id(page)

    body = shown_form(page.text)
    body.pop("c:news:email", None)
    before = await count()
    saved = await api.client.post(setup.path, data=body)
    assert saved.status_code == 303
    withdrawals = await since(before, "consent.withdraw")
    assert [(e.detail["channel"], e.detail["source"]) for e in withdrawals] == [
        ("email", "preference_center")
    ]
    assert actor(withdrawals[0]) == f"customer:{setup.id}"
    assert withdrawals[0].request_id == request_id(saved)

    await grant(api, setup.id, "email")
    path = f"/unsubscribe/{api.runtime.links.unsubscribe_token(setup.id, 'news', 'email')}"
    before = await count()
    clicked = await api.client.post(path, files={"List-Unsubscribe": (None, "One-Click")})
    assert clicked.status_code == 200
    (one_click,) = await since(before)
    assert one_click.action == "consent.withdraw"
    assert one_click.detail["source"] == "one_click_unsubscribe"
    assert actor(one_click) == f"customer:{setup.id}"
    assert one_click.request_id == request_id(clicked)

    before = await count()
    assert await stop(setup.id, {"at": datetime.now(UTC).isoformat()}, datetime.now(UTC))
    (stopped,) = await since(before)
    assert stopped.action == "consent.withdraw" and stopped.detail["channel"] == "sms"
    assert actor(stopped) == f"customer:{setup.id}"
    assert stopped.request_id is None  # an inbound reply, outside any request of ours
    assert (
        await PermissionEntry.filter(customer_id=setup.id, status=GrantStatus.WITHDRAWN).count()
        == 3
    )
    await assert_no_pii("zoe@example.com", "Zoë Pagetest")
