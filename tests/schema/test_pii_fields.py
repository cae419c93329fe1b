"""A customer's personal data (email, phone, devices) reads alike: the value for callers who
may read it, null with a FORBIDDEN error naming the field for those who may not. Devices
were once `[]` for the latter, so "no devices" and "hidden" looked the same."""

from __future__ import annotations

import pytest

from tests.schema.authz_world import build_world
from tidings.core.models import Device
from tidings.schema.ids import to_global_id

QUERY = "query($id: ID!) { customer(id: $id) { email phone devices { id platform } } }"
PII = ("email", "phone", "devices")


async def with_device(api):
    """The authorisation world, whose target customer has registered a device."""
    world = await build_world(api)
    devices = await Device.filter(customer_id=world.target).order_by("id")
    assert devices, "the world's target has a device"
    return world, devices


@pytest.mark.parametrize("caller", ["MARKETER", "AUDITOR", "AGENT_NO_READ", "KEY_MARKETER"])
async def test_callers_who_may_not_read_pii_get_null_and_forbidden_for_devices(api, caller):
    world, _ = await with_device(api)
    token = await world.callers[caller].token(api)
    result = await api.gql(QUERY, {"id": to_global_id("Customer", world.target)}, token)
    assert result["data"]["customer"] == {"email": None, "phone": None, "devices": None}
    assert sorted(tuple(e["path"]) for e in result["errors"]) == sorted(
        ("customer", field) for field in PII
    )
    assert {e["extensions"]["code"] for e in result["errors"]} == {"FORBIDDEN"}


@pytest.mark.parametrize("caller", ["ADMIN", "AGENT_READ", "CUSTOMER_SELF"])
async def test_callers_who_may_read_pii_get_the_devices(api, caller):
    world, devices = await with_device(api)
    token = await world.callers[caller].token(api)
    result = await api.gql(QUERY, {"id": to_global_id("Customer", world.target)}, token)
    assert "errors" not in result, result
    assert result["data"]["customer"]["devices"] == [
        {"id": to_global_id("Device", d.id), "platform": d.platform.value} for d in devices
    ]
