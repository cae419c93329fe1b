"""Text no database can store is refused up front on both databases, and nothing changes."""

import json

import pytest

from tidings.core.enums import Role
from tidings.core.models import Customer

CREATE = "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { errors { code } } }"


@pytest.mark.parametrize(
    "bad",
    ["x\u0000y", "\ud800", {"nested": ["ok", "a\u0000"]}],
    ids=["nul", "lone-surrogate", "nul-in-json"],
)
async def test_variables_with_unstorable_text_are_refused(api, bad):
    _, token = await api.staff(Role.ADMIN)
    variables = (
        {"i": {"externalId": "ok", "attributes": bad}}
        if isinstance(bad, dict)
        else {"i": {"externalId": bad}}
    )
    body = json.dumps({"query": CREATE, "variables": variables}, ensure_ascii=True)
    response = await api.client.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    result = response.json()
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["BAD_USER_INPUT"]
    assert await Customer.all().count() == 0


async def test_literal_with_nul_is_refused(api):
    _, token = await api.staff(Role.ADMIN)
    result = await api.gql('{ customers(search: "a\\u0000b") { edges { cursor } } }', token=token)
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_ordinary_unicode_passes(api):
    _, token = await api.staff(Role.ADMIN)
    result = await api.gql(CREATE, {"i": {"externalId": "王小明-😀"}}, token)
    assert result["data"]["createCustomer"]["errors"] == []
    assert await Customer.filter(external_id="王小明-😀").count() == 1
