"""Preferences: one per customer × category, created then updated; quiet hours checked."""

from __future__ import annotations

import pytest

from tests.conftest import data
from tests.core.support import admin, create_category, create_customer, only_error, raw_id
from tidings.core.enums import Frequency, Role
from tidings.core.errors import UserInputError
from tidings.core.models import Preference
from tidings.core.services.consent import PreferenceRequest
from tidings.core.viewer import Viewer, ViewerKind

SET = """
mutation($input: SetPreferenceInput!) {
  setPreference(input: $input) {
    preference { category channels frequency quietHours { start end } }
    errors { code field message }
  }
}
"""

READ = "query($id: ID!) { customer(id: $id) { preferences { category channels frequency } } }"


@pytest.fixture
async def setup(api):
    admin_id, token = await admin(api)
    customer = await create_customer(api, token)
    await create_category(api, token, "news")
    await create_category(api, token, "orders", "TRANSACTIONAL")
    return {"admin_id": admin_id, "token": token, "customer": customer["id"]}


async def set_preference(api, token, customer=None, **fields):
    fields = {"category": "news", "channels": ["email"], "frequency": "REALTIME", **fields}
    if customer is not None:
        fields["customerId"] = customer
    return data(await api.gql(SET, {"input": fields}, token))["setPreference"]


async def stored(customer):
    return (
        await Preference.filter(customer_id=raw_id(customer))
        .order_by("category")
        .values("category", "channels", "frequency", "quiet_start", "quiet_end")
    )


async def test_set_preference_creates_then_updates_one_row(api, setup):
    token, customer = setup["token"], setup["customer"]
    created = await set_preference(
        api, token, customer, channels=["email", "push", "email"], frequency="DAILY_DIGEST"
    )
    assert created["errors"] == []
    assert created["preference"] == {
        "category": "news",
        "channels": ["email", "push"],  # duplicates dropped, order kept
        "frequency": "DAILY_DIGEST",
        "quietHours": None,
    }
    updated = await set_preference(
        api,
        token,
        customer,
        channels=["sms"],
        frequency="WEEKLY_DIGEST",
        quietHours={"start": "22:00", "end": "08:00"},
    )
    assert updated["errors"] == []
    assert updated["preference"]["quietHours"] == {"start": "22:00", "end": "08:00"}
    rows = await stored(customer)
    assert rows == [
        {
            "category": "news",
            "channels": ["sms"],
            "frequency": Frequency.WEEKLY_DIGEST,
            "quiet_start": "22:00",
            "quiet_end": "08:00",
        }
    ]
    # Leaving quiet hours out clears them.
    cleared = await set_preference(api, token, customer, channels=["sms"])
    assert cleared["preference"]["quietHours"] is None
    assert (await stored(customer))[0]["quiet_start"] is None

    await set_preference(api, token, customer, category="orders", channels=["push"])
    assert [r["category"] for r in await stored(customer)] == ["news", "orders"]
    read = data(await api.gql(READ, {"id": customer}, token))["customer"]["preferences"]
    assert read == [
        {"category": "news", "channels": ["sms"], "frequency": "REALTIME"},
        {"category": "orders", "channels": ["push"], "frequency": "REALTIME"},
    ]


async def test_customer_sets_its_own_preference_without_customer_id(api, setup):
    token = api.customer_token(raw_id(setup["customer"]))
    payload = await set_preference(api, token, channels=["in_app"])
    assert payload["errors"] == []
    assert (await stored(setup["customer"]))[0]["channels"] == ["in_app"]


async def test_staff_must_give_customer_id(api, setup):
    error = only_error(await set_preference(api, setup["token"]))
    assert (error["code"], error["field"]) == ("REQUIRED", "customerId")
    assert await Preference.all().count() == 0


@pytest.mark.parametrize(
    ("quiet", "field"),
    [
        ({"start": "25:00", "end": "08:00"}, "quietHours.start"),
        ({"start": "22:00", "end": "8am"}, "quietHours.end"),
        ({"start": "22:00", "end": "22:00"}, "quietHours"),
        ({"start": "", "end": ""}, "quietHours.start"),
    ],
)
async def test_bad_quiet_hours_are_rejected_and_nothing_changes(api, setup, quiet, field):
    token, customer = setup["token"], setup["customer"]
    await set_preference(api, token, customer, channels=["push"])
    before = await stored(customer)
    payload = await set_preference(api, token, customer, channels=["sms"], quietHours=quiet)
    assert payload["preference"] is None
    error = only_error(payload)
    assert (error["code"], error["field"]) == ("INVALID_TIME", field)
    assert await stored(customer) == before


@pytest.mark.parametrize(
    ("start", "end"), [("22:00", None), (None, "08:00")], ids=["start-only", "end-only"]
)
async def test_quiet_hours_need_both_ends(api, setup, start, end):
    """The GraphQL input requires both; the service refuses half a window from any caller."""
    viewer = Viewer(ViewerKind.STAFF, setup["admin_id"], Role.ADMIN)
    request = PreferenceRequest("news", ["email"], Frequency.REALTIME, start, end)
    with pytest.raises(UserInputError) as caught:
        await api.runtime.services.consent.set_preference(
            viewer, raw_id(setup["customer"]), request
        )
    assert (caught.value.code, caught.value.field) == ("INVALID_TIME", "quietHours")
    assert await Preference.all().count() == 0


async def test_unknown_channel_stores_nothing(api, setup):
    token, customer = setup["token"], setup["customer"]
    payload = await set_preference(api, token, customer, channels=["email", "carrier-pigeon"])
    error = only_error(payload)
    assert (error["code"], error["field"]) == ("UNKNOWN_CHANNEL", "channels")
    assert await Preference.all().count() == 0

    await set_preference(api, token, customer, channels=["push"])
    before = await stored(customer)
    await set_preference(api, token, customer, channels=["fax"])
    assert await stored(customer) == before


async def test_unknown_category_is_rejected(api, setup):
    payload = await set_preference(api, setup["token"], setup["customer"], category="nope")
    error = only_error(payload)
    assert (error["code"], error["field"]) == ("UNKNOWN_CATEGORY", "category")
    assert await Preference.all().count() == 0


@pytest.mark.parametrize("role", [Role.MARKETER, Role.AGENT, Role.AUDITOR])
async def test_other_roles_may_not_set_preferences(api, setup, role):
    _, token = await api.staff(role)
    variables = {
        "input": {
            "customerId": setup["customer"],
            "category": "news",
            "channels": ["email"],
            "frequency": "REALTIME",
        }
    }
    result = await api.gql(SET, variables, token)
    assert list(result["data"].values()) == [None]
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    assert await Preference.all().count() == 0
