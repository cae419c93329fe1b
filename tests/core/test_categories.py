"""Categories and channels through the API."""

from __future__ import annotations

import pytest

from tests.conftest import data
from tests.core.support import CREATE_CATEGORY, admin, create_category, only_error
from tidings.core.enums import Role
from tidings.core.models import Category

UPDATE = """
mutation($input: UpdateCategoryInput!) {
  updateCategory(input: $input) {
    category { key name kind defaultChannels respectQuietHours required fallbackChannel }
    errors { code field message }
  }
}
"""


async def create(api, token, **fields):
    fields = {"key": "news", "name": "News", "kind": "MARKETING", **fields}
    return data(await api.gql(CREATE_CATEGORY, {"input": fields}, token))["createCategory"]


async def test_create_category_defaults_by_kind(api):
    _, token = await admin(api)
    marketing = await create_category(api, token, "promotions", "MARKETING")
    assert marketing == {
        "key": "promotions",
        "name": "Promotions",
        "kind": "MARKETING",
        "defaultChannels": ["email"],
        "respectQuietHours": True,
        "required": False,
        "fallbackChannel": None,
    }
    transactional = await create_category(api, token, "orders", "TRANSACTIONAL")
    assert transactional["respectQuietHours"] is False
    assert transactional["required"] is False


async def test_create_category_with_every_field(api):
    _, token = await api.staff(Role.MARKETER)
    made = await create_category(
        api,
        token,
        "security",
        "TRANSACTIONAL",
        defaultChannels=["email", "sms", "email"],
        respectQuietHours=True,
        required=True,
        fallbackChannel="sms",
    )
    assert made["defaultChannels"] == ["email", "sms"]
    assert (made["respectQuietHours"], made["required"], made["fallbackChannel"]) == (
        True,
        True,
        "sms",
    )
    listed = data(await api.gql("{ categories { key kind required } }", token=token))
    assert listed["categories"] == [{"key": "security", "kind": "TRANSACTIONAL", "required": True}]


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"key": "news"}, "DUPLICATE_KEY", "key"),
        ({"key": "Big News"}, "INVALID_KEY", "key"),
        ({"key": ""}, "INVALID_KEY", "key"),
        ({"key": "fresh", "name": "  "}, "REQUIRED", "name"),
        (
            {"key": "fresh", "defaultChannels": ["email", "fax"]},
            "UNKNOWN_CHANNEL",
            "defaultChannels",
        ),
        ({"key": "fresh", "fallbackChannel": "fax"}, "UNKNOWN_CHANNEL", "fallbackChannel"),
    ],
)
async def test_create_category_rejects_and_changes_nothing(api, fields, code, field):
    _, token = await admin(api)
    await create_category(api, token, "news")
    before = await Category.all().order_by("id").values()
    payload = await create(api, token, **fields)
    assert payload["category"] is None
    error = only_error(payload)
    assert (error["code"], error["field"]) == (code, field)
    assert await Category.all().order_by("id").values() == before


async def test_update_category(api):
    _, token = await admin(api)
    await create_category(api, token, "news", defaultChannels=["email"], fallbackChannel="sms")
    payload = data(
        await api.gql(
            UPDATE,
            {
                "input": {
                    "key": "news",
                    "name": "Newsletter",
                    "defaultChannels": ["push", "in_app"],
                    "respectQuietHours": False,
                }
            },
            token,
        )
    )["updateCategory"]
    assert payload["errors"] == []
    assert payload["category"] == {
        "key": "news",
        "name": "Newsletter",
        "kind": "MARKETING",  # the kind never changes
        "defaultChannels": ["push", "in_app"],
        "respectQuietHours": False,
        "required": False,
        "fallbackChannel": "sms",  # left out: kept
    }
    cleared = data(
        await api.gql(UPDATE, {"input": {"key": "news", "fallbackChannel": None}}, token)
    )["updateCategory"]
    assert cleared["category"]["fallbackChannel"] is None
    row = await Category.get(key="news")
    assert (row.name, row.default_channels, row.fallback_channel) == (
        "Newsletter",
        ["push", "in_app"],
        None,
    )


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"key": "missing"}, "NOT_FOUND", "key"),
        ({"defaultChannels": ["fax"]}, "UNKNOWN_CHANNEL", "defaultChannels"),
        ({"fallbackChannel": "fax"}, "UNKNOWN_CHANNEL", "fallbackChannel"),
        ({"name": ""}, "REQUIRED", "name"),
    ],
)
async def test_update_category_rejects_and_changes_nothing(api, fields, code, field):
    _, token = await admin(api)
    await create_category(api, token, "news")
    before = await Category.all().values()
    payload = data(
        await api.gql(UPDATE, {"input": {"key": "news", "name": "Changed", **fields}}, token)
    )["updateCategory"]
    error = only_error(payload)
    assert (error["code"], error["field"]) == (code, field)
    assert await Category.all().values() == before


@pytest.mark.parametrize("role", [Role.AGENT, Role.AUDITOR])
async def test_only_admin_and_marketer_manage_categories(api, role):
    _, token = await api.staff(role)
    result = await api.gql(
        CREATE_CATEGORY, {"input": {"key": "x", "name": "X", "kind": "MARKETING"}}, token
    )
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await Category.all().count() == 0


async def test_channels_lists_the_built_in_channels(api):
    _, token = await api.staff(Role.AUDITOR)
    channels = data(await api.gql("{ channels { name providers } }", token=token))["channels"]
    names = [c["name"] for c in channels]
    assert {"email", "sms", "push", "in_app"} <= set(names)
    assert names == sorted(names)
    assert all(isinstance(c["providers"], list) for c in channels)
