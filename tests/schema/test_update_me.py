"""A customer edits its own name, locale and timezone (issue 11, item 5): the core service the
preference page calls, and `updateMe` for customer tokens."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Api, data
from tidings.core.enums import Role
from tidings.core.errors import ForbiddenError, UserInputError
from tidings.core.models import Customer
from tidings.core.services.customers import CustomerFields
from tidings.core.viewer import Viewer, ViewerKind


async def customer(email: str = "ann@example.com") -> Customer:
    return await Customer.create(
        external_id=f"c-{uuid.uuid4().hex[:8]}", name="Ann", email=email, attributes={}
    )


async def test_update_me_changes_only_name_locale_and_timezone(api: Api):
    ann = await customer()
    me = Viewer(ViewerKind.CUSTOMER, ann.id)
    service = api.runtime.services.customers
    fields = CustomerFields(
        name="Ann Lee", locale="zh-CN", timezone="Asia/Shanghai", email="other@example.com"
    )
    updated = await service.update_me(me, fields)
    assert (updated.name, updated.locale, updated.timezone) == ("Ann Lee", "zh-CN", "Asia/Shanghai")
    stored = await Customer.get(id=ann.id)
    assert (stored.name, stored.locale, stored.timezone) == ("Ann Lee", "zh-CN", "Asia/Shanghai")
    assert stored.email == "ann@example.com"  # not one of the customer's own fields

    unchanged = await service.update_me(me, CustomerFields(locale="en"))
    assert (unchanged.name, unchanged.locale, unchanged.timezone) == (
        "Ann Lee",
        "en",
        "Asia/Shanghai",
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (CustomerFields(timezone="Mars/Olympus"), "timezone"),
        (CustomerFields(locale="not a locale!"), "locale"),
    ],
)
async def test_update_me_validates_as_update_customer_does(api: Api, fields, field):
    ann = await customer()
    with pytest.raises(UserInputError) as raised:
        await api.runtime.services.customers.update_me(Viewer(ViewerKind.CUSTOMER, ann.id), fields)
    assert raised.value.field == field
    assert (await Customer.get(id=ann.id)).timezone == "UTC"


async def test_update_me_is_for_customers_only(api: Api):
    await customer()
    admin, _ = await api.staff(Role.ADMIN)
    with pytest.raises(ForbiddenError):
        await api.runtime.services.customers.update_me(
            Viewer(ViewerKind.STAFF, admin, Role.ADMIN), CustomerFields(name="X")
        )


UPDATE_ME = """mutation($i: UpdateMeInput!) { updateMe(input: $i) {
  customer { name locale timezone } errors { code field } } }"""


async def test_update_me_through_the_api(api: Api):
    ann = await customer()
    token = api.customer_token(ann.id)
    changes = {"name": "安", "locale": "zh-CN", "timezone": "Asia/Shanghai"}
    result = data(await api.gql(UPDATE_ME, {"i": changes}, token))["updateMe"]
    assert result == {"customer": changes, "errors": []}

    kept = data(await api.gql(UPDATE_ME, {"i": {"timezone": "Europe/Paris"}}, token))["updateMe"]
    assert kept["customer"] == {"name": "安", "locale": "zh-CN", "timezone": "Europe/Paris"}

    bad = data(await api.gql(UPDATE_ME, {"i": {"timezone": "Nowhere/Else"}}, token))["updateMe"]
    assert bad["customer"] is None
    assert [e["field"] for e in bad["errors"]] == ["timezone"]
    bad = data(await api.gql(UPDATE_ME, {"i": {"locale": "!!"}}, token))["updateMe"]
    assert [e["field"] for e in bad["errors"]] == ["locale"]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MARKETER])
async def test_update_me_refuses_staff(api: Api, role: Role):
    _, token = await api.staff(role)
    result = await api.gql(UPDATE_ME, {"i": {"name": "Boss"}}, token)
    assert result["data"] == {"updateMe": None}
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
