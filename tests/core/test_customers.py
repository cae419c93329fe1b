"""Customers through the API: defaults, validation, updates, listing and pagination."""

from __future__ import annotations

import pytest

from tests.conftest import data
from tests.core.support import CREATE_CUSTOMER, admin, create_customer, only_error, raw_id
from tidings.core.enums import Role
from tidings.core.models import Customer

UPDATE = """
mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { id externalId name email phone emailMasked locale timezone tier attributes }
    errors { code field message }
  }
}
"""

LIST = """
query($first: Int, $after: String, $tier: Tier) {
  customers(first: $first, after: $after, tier: $tier) {
    edges { cursor node { id externalId tier } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def create(api, token, **fields):
    return data(await api.gql(CREATE_CUSTOMER, {"input": fields}, token))["createCustomer"]


async def update(api, token, **fields):
    return data(await api.gql(UPDATE, {"input": fields}, token))["updateCustomer"]


async def test_create_customer_defaults(api):
    _, token = await admin(api)
    customer = await create_customer(api, token, externalId="c-1")
    assert customer["externalId"] == "c-1"
    assert (customer["locale"], customer["timezone"], customer["tier"]) == ("en", "UTC", "ORDINARY")
    assert customer["attributes"] == {}
    assert (customer["name"], customer["email"], customer["phone"]) == (None, None, None)
    assert customer["emailMasked"] is None
    row = await Customer.get(id=raw_id(customer["id"]))
    assert (row.locale, row.timezone, row.attributes) == ("en", "UTC", {})


async def test_create_customer_normalises_what_it_is_given(api):
    _, token = await admin(api)
    customer = await create_customer(
        api,
        token,
        externalId="c-2",
        name="  王小明 ",
        email="Xiaoming@EXAMPLE.cn",
        phone="+8613800138000",
        locale="zh-cn",
        timezone="Asia/Shanghai",
        tier="HIGH_VALUE",
        attributes={"plan": "gold"},
    )
    assert customer["name"] == "王小明"
    assert customer["email"] == "Xiaoming@example.cn"
    assert customer["emailMasked"] == "X***@example.cn"
    assert (customer["locale"], customer["timezone"]) == ("zh-CN", "Asia/Shanghai")
    assert (customer["tier"], customer["attributes"]) == ("HIGH_VALUE", {"plan": "gold"})


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"email": "not-an-email"}, "INVALID_EMAIL", "email"),
        ({"phone": "13800138000"}, "INVALID_PHONE", "phone"),
        ({"phone": "+1 415 555 0123"}, "INVALID_PHONE", "phone"),
        ({"timezone": "Mars/Olympus"}, "INVALID_TIMEZONE", "timezone"),
        ({"locale": "klingon"}, "INVALID_LOCALE", "locale"),
        ({"externalId": "dup"}, "DUPLICATE_EXTERNAL_ID", "externalId"),
        ({"externalId": "  "}, "REQUIRED", "externalId"),
        ({"attributes": ["not", "an", "object"]}, "INVALID_JSON", "attributes"),
    ],
)
async def test_create_customer_rejects_and_changes_nothing(api, fields, code, field):
    _, token = await admin(api)
    await create_customer(api, token, externalId="dup")
    before = await Customer.all().order_by("id").values()
    payload = await create(api, token, **{"externalId": "fresh", **fields})
    assert payload["customer"] is None
    error = only_error(payload)
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]
    assert await Customer.all().order_by("id").values() == before


async def test_only_admin_creates_customers(api):
    _, token = await api.staff(Role.MARKETER)
    result = await api.gql(CREATE_CUSTOMER, {"input": {"externalId": "m"}}, token)
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await Customer.all().count() == 0


async def test_update_leaves_out_fields_alone_and_null_clears(api):
    _, token = await admin(api)
    customer = await create_customer(
        api,
        token,
        externalId="u-1",
        name="Jane",
        email="jane@example.com",
        phone="+14155550123",
        locale="en-GB",
        timezone="Europe/London",
        attributes={"a": 1},
    )
    payload = await update(api, token, id=customer["id"], tier="POTENTIAL")
    assert payload["errors"] == []
    assert payload["customer"] == {**customer, "tier": "POTENTIAL"}

    payload = await update(api, token, id=customer["id"], email=None, name="Janet")
    assert payload["errors"] == []
    assert payload["customer"] == {
        **customer,
        "tier": "POTENTIAL",
        "email": None,
        "emailMasked": None,
        "name": "Janet",
    }
    row = await Customer.get(id=raw_id(customer["id"]))
    assert (row.email, row.phone, row.name) == (None, "+14155550123", "Janet")


async def test_update_validates_like_create(api):
    _, token = await admin(api)
    customer = await create_customer(api, token, externalId="u-2", email="a@example.com")
    before = await Customer.get(id=raw_id(customer["id"])).values()
    payload = await update(api, token, id=customer["id"], email="nope", name="Changed")
    assert only_error(payload)["code"] == "INVALID_EMAIL"
    assert await Customer.get(id=raw_id(customer["id"])).values() == before


async def test_update_to_a_duplicate_external_id_is_rejected(api):
    _, token = await admin(api)
    await create_customer(api, token, externalId="taken")
    other = await create_customer(api, token, externalId="mine", name="Mine")
    before = await Customer.all().order_by("id").values()
    payload = await update(api, token, id=other["id"], externalId="taken", name="Renamed")
    assert payload["customer"] is None
    error = only_error(payload)
    assert (error["code"], error["field"]) == ("DUPLICATE_EXTERNAL_ID", "externalId")
    assert await Customer.all().order_by("id").values() == before
    # The API still works after the failed write (no transaction left open).
    assert (await update(api, token, id=other["id"], name="Renamed"))["errors"] == []


async def test_update_unknown_customer_is_not_found(api):
    _, token = await admin(api)
    payload = await update(api, token, id="bm90LWEtY3VzdG9tZXI=", name="x")
    assert only_error(payload)["code"] == "NOT_FOUND"


async def test_email_masked_is_visible_without_pii(api):
    _, token = await admin(api)
    customer = await create_customer(api, token, email="jane.doe@example.com")
    _, marketer = await api.staff(Role.MARKETER)
    result = await api.gql(
        "query($id: ID!) { customer(id: $id) { email emailMasked } }",
        {"id": customer["id"]},
        marketer,
    )
    assert result["data"]["customer"] == {"email": None, "emailMasked": "j***@example.com"}
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    assert result["errors"][0]["path"] == ["customer", "email"]


async def test_customers_filter_by_tier(api):
    _, token = await admin(api)
    high = await create_customer(api, token, externalId="h", tier="HIGH_VALUE")
    await create_customer(api, token, externalId="o")
    pot = await create_customer(api, token, externalId="p", tier="POTENTIAL")
    high2 = await create_customer(api, token, externalId="h2", tier="HIGH_VALUE")

    async def ids(tier):
        result = data(await api.gql(LIST, {"tier": tier}, token))["customers"]
        return [edge["node"]["id"] for edge in result["edges"]]

    assert await ids("HIGH_VALUE") == [high["id"], high2["id"]]
    assert await ids("POTENTIAL") == [pot["id"]]
    assert len(await ids(None)) == 4


async def test_customers_paginate_across_pages(api):
    _, token = await admin(api)
    made = [(await create_customer(api, token, externalId=f"p-{i}"))["id"] for i in range(7)]
    seen, after, pages = [], None, 0
    while True:
        page = data(await api.gql(LIST, {"first": 3, "after": after}, token))["customers"]
        pages += 1
        seen += [edge["node"]["id"] for edge in page["edges"]]
        info = page["pageInfo"]
        assert info["endCursor"] == page["edges"][-1]["cursor"]
        assert info["startCursor"] == page["edges"][0]["cursor"]
        assert info["hasPreviousPage"] is (after is not None)
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert pages == 3
    assert seen == made  # oldest first, each once


@pytest.mark.parametrize("cursor", ["garbage", "", "YWJj", "Y3VzdG9tZXI6MQ==", "!!!"])
async def test_bad_cursor_is_a_clear_error(api, cursor):
    _, token = await admin(api)
    await create_customer(api, token)
    result = await api.gql(LIST, {"first": 2, "after": cursor}, token)
    assert list(result["data"].values()) == [None]
    (error,) = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["reason"] == "INVALID_CURSOR"
    assert "cursor" in error["message"].lower()
    assert error["path"] == ["customers"]
