"""A customer edits its own name, locale and timezone (issue 11, item 5): the core service the
preference page calls, and `updateMe` for customer tokens."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Api
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
