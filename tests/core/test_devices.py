"""Push devices: registered by the customer or ADMIN, moved between customers, never echoed."""

from __future__ import annotations

import json
import secrets

import pytest

from tests.conftest import data
from tests.core.support import admin, create_customer, only_error, raw_id
from tidings.core.enums import Role
from tidings.core.models import Device

REGISTER = """
mutation($input: RegisterDeviceInput!) {
  registerDevice(input: $input) {
    device { id platform createdAt lastSeenAt }
    errors { code field message }
  }
}
"""

REMOVE = """
mutation($id: ID!) {
  removeDevice(id: $id) { device { id platform } errors { code field message } }
}
"""

DEVICES = "query($id: ID!) { customer(id: $id) { devices { id platform createdAt lastSeenAt } } }"


def fcm_token() -> str:
    return "fcm:" + secrets.token_urlsafe(96)


@pytest.fixture
async def setup(api):
    _, token = await admin(api)
    one = await create_customer(api, token)
    two = await create_customer(api, token)
    return {"token": token, "one": one["id"], "two": two["id"]}


async def register(api, token, device_token, customer=None, platform="ANDROID"):
    fields = {"platform": platform, "token": device_token}
    if customer is not None:
        fields["customerId"] = customer
    result = await api.gql(REGISTER, {"input": fields}, token)
    if len(device_token.strip()) >= 16:  # never echoed back, not even in an error
        assert device_token.strip() not in json.dumps(result)
    return data(result)["registerDevice"]


async def devices(api, token, customer):
    result = await api.gql(DEVICES, {"id": customer}, token)
    return data(result)["customer"]["devices"], json.dumps(result)


async def test_customer_registers_its_own_device(api, setup):
    token = api.customer_token(raw_id(setup["one"]))
    device_token = fcm_token()
    payload = await register(api, token, device_token, platform="IOS")
    assert payload["errors"] == []
    assert payload["device"]["platform"] == "IOS"
    assert payload["device"]["lastSeenAt"] is not None
    listed, raw = await devices(api, token, setup["one"])
    assert [d["id"] for d in listed] == [payload["device"]["id"]]
    assert device_token not in raw
    row = await Device.get(id=raw_id(payload["device"]["id"]))
    assert (row.customer_id, row.token) == (raw_id(setup["one"]), device_token)


async def test_admin_registers_a_device_for_a_customer(api, setup):
    payload = await register(api, setup["token"], fcm_token(), setup["two"], "WEB")
    assert payload["errors"] == []
    listed, _ = await devices(api, setup["token"], setup["two"])
    assert [(d["id"], d["platform"]) for d in listed] == [(payload["device"]["id"], "WEB")]


async def test_staff_must_name_the_customer(api, setup):
    error = only_error(await register(api, setup["token"], fcm_token()))
    assert (error["code"], error["field"]) == ("REQUIRED", "customerId")
    assert await Device.all().count() == 0


async def test_a_token_registered_again_moves_to_the_new_customer(api, setup):
    device_token = fcm_token()
    first = await register(api, api.customer_token(raw_id(setup["one"])), device_token)
    second = await register(
        api, api.customer_token(raw_id(setup["two"])), device_token, platform="IOS"
    )
    assert second["errors"] == []
    assert second["device"]["id"] == first["device"]["id"]
    assert await Device.all().count() == 1
    row = await Device.get()
    assert (row.customer_id, row.platform.value) == (raw_id(setup["two"]), "IOS")
    assert (await devices(api, setup["token"], setup["one"]))[0] == []
    moved, _ = await devices(api, setup["token"], setup["two"])
    assert [d["id"] for d in moved] == [first["device"]["id"]]


async def test_the_same_customer_registering_again_keeps_one_row(api, setup):
    token = api.customer_token(raw_id(setup["one"]))
    device_token = fcm_token()
    await register(api, token, device_token)
    await register(api, token, "  " + device_token + "  ")
    assert await Device.all().count() == 1


@pytest.mark.parametrize(
    "bad", ["short", "", "has space" + "x" * 20, "tab\t" + "x" * 20, "x" * 4097]
)
async def test_invalid_tokens_are_rejected(api, setup, bad):
    payload = await register(api, setup["token"], bad, setup["one"])
    assert payload["device"] is None
    error = only_error(payload)
    assert (error["code"], error["field"]) == ("INVALID_TOKEN", "token")
    assert await Device.all().count() == 0


async def test_remove_device(api, setup):
    token = api.customer_token(raw_id(setup["one"]))
    made = (await register(api, token, fcm_token()))["device"]
    kept = (await register(api, token, fcm_token()))["device"]

    # Another customer cannot see it, so cannot remove it.
    other = api.customer_token(raw_id(setup["two"]))
    refused = data(await api.gql(REMOVE, {"id": made["id"]}, other))["removeDevice"]
    assert only_error(refused)["code"] == "NOT_FOUND"
    assert await Device.all().count() == 2

    removed = data(await api.gql(REMOVE, {"id": made["id"]}, token))["removeDevice"]
    assert removed["errors"] == []
    assert removed["device"]["id"] == made["id"]
    listed, _ = await devices(api, token, setup["one"])
    assert [d["id"] for d in listed] == [kept["id"]]

    again = data(await api.gql(REMOVE, {"id": made["id"]}, token))["removeDevice"]
    assert only_error(again)["code"] == "NOT_FOUND"

    by_admin = data(await api.gql(REMOVE, {"id": kept["id"]}, setup["token"]))["removeDevice"]
    assert by_admin["errors"] == []
    assert await Device.all().count() == 0


async def test_device_type_has_no_token_field(api, setup):
    result = await api.gql(
        "query($id: ID!) { customer(id: $id) { devices { token } } }",
        {"id": setup["one"]},
        setup["token"],
    )
    assert result.get("data") is None
    assert "token" in result["errors"][0]["message"]


@pytest.mark.parametrize("role", [Role.MARKETER, Role.AGENT, Role.AUDITOR])
async def test_other_roles_may_not_register_or_remove_devices(api, setup, role):
    device = (await register(api, setup["token"], fcm_token(), setup["one"]))["device"]
    _, token = await api.staff(role)
    variables = {"input": {"customerId": setup["one"], "platform": "IOS", "token": fcm_token()}}
    for query, args in ((REGISTER, variables), (REMOVE, {"id": device["id"]})):
        result = await api.gql(query, args, token)
        assert list(result["data"].values()) == [None]
        assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    assert await Device.all().count() == 1
