"""Identifiers and names that could pass for others are refused, and what is stored is NFC:
`victim-1\u200b` cannot sit beside `victim-1`, a composed and a decomposed `é` are one
externalId, and a timezone is an IANA name, not a file that happens to be in zoneinfo."""

from __future__ import annotations

import unicodedata

import pytest

from tests.conftest import data
from tests.core.support import (
    CREATE_CATEGORY,
    CREATE_CUSTOMER,
    admin,
    create_category,
    create_customer,
    only_error,
)
from tidings.core.models import ApiKey, Category, Customer

UPDATE = """
mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { externalId name timezone } errors { code field message } }
}
"""
SEARCH = "query($s: String) { customers(first: 10, search: $s) { nodes { externalId } } }"
CREATE_KEY = """
mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret errors { code field message } } }
"""
UPDATE_CATEGORY = """
mutation($input: UpdateCategoryInput!) { updateCategory(input: $input) { category { name } errors { code field } } }
"""

INVISIBLE = [
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\u2060",  # word joiner
    "\ufeff",  # byte order mark
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u200f",  # right-to-left mark
    "\u00ad",  # soft hyphen
    "\ufe0f",  # variation selector 16
    "\u3164",  # Hangul filler
    "\U000e0041",  # tag latin capital A
    "\u00a0",  # no-break space
    "\u3000",  # ideographic space
    "\t",
    "\x1b",
    "\u2028",  # line separator
    "\ue000",  # private use
]


async def create(api, token, **fields):
    return data(await api.gql(CREATE_CUSTOMER, {"input": fields}, token))["createCustomer"]


@pytest.mark.parametrize("char", INVISIBLE)
async def test_an_external_id_with_an_invisible_character_is_refused(api, char):
    _, token = await admin(api)
    await create_customer(api, token, externalId="victim-1")
    # Surrounding whitespace is trimmed, as from any text (and so cannot tell two apart).
    looks_alike = [f"vic{char}tim-1"] + ([] if char.isspace() else [f"victim-1{char}"])
    for external_id in looks_alike:
        payload = await create(api, token, externalId=external_id)
        error = only_error(payload)
        assert (error["code"], error["field"]) == ("INVALID_CHARACTERS", "externalId")
        assert f"U+{ord(char):04X}" in error["message"]
    assert await Customer.all().count() == 1


async def test_changing_an_external_id_to_a_lookalike_is_refused(api):
    _, token = await admin(api)
    customer = await create_customer(api, token, externalId="plain")
    payload = data(
        await api.gql(UPDATE, {"input": {"id": customer["id"], "externalId": "pl\u200bain"}}, token)
    )["updateCustomer"]
    assert only_error(payload)["code"] == "INVALID_CHARACTERS"
    assert (await Customer.get()).external_id == "plain"


async def test_external_ids_are_stored_nfc_and_one_form_equals_the_other(api):
    _, token = await admin(api)
    decomposed = "cafe\u0301-42"
    composed = unicodedata.normalize("NFC", decomposed)
    assert composed != decomposed
    created = await create_customer(api, token, externalId=decomposed, name="Rene\u0301e")
    assert created["externalId"] == composed
    assert created["name"] == "Renée"
    assert (await Customer.get()).external_id == composed
    duplicate = await create(api, token, externalId=composed)
    assert only_error(duplicate)["code"] == "DUPLICATE_EXTERNAL_ID"
    # Found by either form.
    for term in (composed, decomposed):
        found = data(await api.gql(SEARCH, {"s": term}, token))["customers"]["nodes"]
        assert [node["externalId"] for node in found] == [composed]


async def test_plain_spaces_and_any_script_stay_in_external_ids_and_names(api):
    _, token = await admin(api)
    created = await create_customer(
        api,
        token,
        externalId="crm 1001/王",
        name="山田\u3000太郎",  # an ideographic space, as Japanese names are written
    )
    assert created["externalId"] == "crm 1001/王"
    assert created["name"] == "山田\u3000太郎"
    persian = await create_customer(api, token, name="می\u200cخواهم")  # ZWNJ: Persian needs it
    assert persian["name"] == "می\u200cخواهم"


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200b", "\ufeff", "\n", "\x07", "\u2028"])
async def test_a_customer_name_with_a_control_or_bidi_character_is_refused(api, char):
    _, token = await admin(api)
    payload = await create(api, token, externalId="n-1", name=f"Jane{char}Doe")
    error = only_error(payload)
    assert (error["code"], error["field"]) == ("INVALID_CHARACTERS", "name")
    assert await Customer.all().count() == 0


async def test_category_keys_and_names(api):
    _, token = await admin(api)
    await create_category(api, token, "news")
    variables = {"input": {"key": "news\u200b", "name": "News", "kind": "MARKETING"}}
    payload = data(await api.gql(CREATE_CATEGORY, variables, token))["createCategory"]
    error = only_error(payload)
    assert (error["code"], error["field"]) == ("INVALID_CHARACTERS", "key")
    variables = {"input": {"key": "promos", "name": "Promos\u202e", "kind": "MARKETING"}}
    payload = data(await api.gql(CREATE_CATEGORY, variables, token))["createCategory"]
    assert (only_error(payload)["code"], only_error(payload)["field"]) == (
        "INVALID_CHARACTERS",
        "name",
    )
    renamed = data(
        await api.gql(UPDATE_CATEGORY, {"input": {"key": "news", "name": "N\u2066ews"}}, token)
    )["updateCategory"]
    assert only_error(renamed)["code"] == "INVALID_CHARACTERS"
    assert [c.key for c in await Category.all()] == ["news"]
    assert (await Category.get()).name == "News"


async def test_an_api_key_name_with_a_bidi_control_is_refused(api):
    _, token = await admin(api)
    variables = {"input": {"name": "crm\u202egnp.exe", "role": "MARKETER"}}
    payload = data(await api.gql(CREATE_KEY, variables, token))["createApiKey"]
    assert payload["secret"] is None
    assert (only_error(payload)["code"], only_error(payload)["field"]) == (
        "INVALID_CHARACTERS",
        "name",
    )
    assert await ApiKey.all().count() == 0


@pytest.mark.parametrize(
    "zone", ["localtime", "Factory", "right/UTC", "posix/Asia/Shanghai", "posixrules"]
)
async def test_timezones_that_are_files_not_iana_names_are_refused(api, zone):
    _, token = await admin(api)
    payload = await create(api, token, externalId="tz", timezone=zone)
    error = only_error(payload)
    assert (error["code"], error["field"]) == ("INVALID_TIMEZONE", "timezone")


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Asia/Calcutta", "US/Eastern", "Etc/GMT-8"])
async def test_iana_zones_and_their_links_are_accepted(api, zone):
    _, token = await admin(api)
    customer = await create_customer(api, token, timezone=zone)
    assert customer["timezone"] == zone
