"""Which customers each caller sees: agents only those they hold an unexpired, unrevoked
access grant for, customers only themselves; and search never matches email or phone for a
caller who may not read them (PII cannot be probed by search)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.schema.authz_world import OTHER_EMAIL, TARGET_EMAIL, TARGET_PHONE, World, build_world
from tidings.schema.ids import to_global_id

VISIBILITY = """query($id: ID!, $other: ID!, $search: String!) {
  customer(id: $id) { id }
  otherCustomer: customer(id: $other) { id }
  customers { nodes { id } }
  found: customers(search: $search) { nodes { id } }
}"""


async def visible(api, world: World, caller_name: str, search: str) -> dict[str, Any]:
    variables = {
        "id": to_global_id("Customer", world.target),
        "other": to_global_id("Customer", world.other),
        "search": search,
    }
    result = await api.gql(VISIBILITY, variables, await world.callers[caller_name].token(api))
    assert "errors" not in result, result
    data = result["data"]
    return {
        "customer": data["customer"] and data["customer"]["id"],
        "other": data["otherCustomer"] and data["otherCustomer"]["id"],
        "list": [n["id"] for n in data["customers"]["nodes"]],
        "found": [n["id"] for n in data["found"]["nodes"]],
    }


@pytest.mark.parametrize(
    ("caller", "sees_target"),
    [
        ("AGENT_READ", True),
        ("AGENT_NO_READ", True),
        ("AGENT_NO_GRANT", False),
        ("AGENT_EXPIRED", False),
        ("AGENT_REVOKED", False),
        ("KEY_AGENT", False),
    ],
)
async def test_agent_sees_only_customers_it_holds_an_active_grant_for(api, caller, sees_target):
    world = await build_world(api)
    tid = to_global_id("Customer", world.target)
    seen = await visible(api, world, caller, "Tara Target")
    expected = [tid] if sees_target else []
    assert seen == {
        "customer": expected[0] if expected else None,
        "other": None,
        "list": expected,
        "found": expected,
    }
    grants = await api.gql(
        "{ accessGrants { nodes { customer { id } } } }",
        None,
        await world.callers[caller].token(api),
    )
    assert [n["customer"]["id"] for n in grants["data"]["accessGrants"]["nodes"]] == expected


@pytest.mark.parametrize(
    "caller", ["MARKETER", "AUDITOR", "AGENT_NO_READ", "KEY_MARKETER", "KEY_AUDITOR"]
)
async def test_search_cannot_probe_pii(api, caller):
    world = await build_world(api)
    tid = to_global_id("Customer", world.target)
    # Name (exactly, any case) and externalId match: the caller does see the target customer.
    assert (await visible(api, world, caller, "tara target"))["found"] == [tid]
    assert (await visible(api, world, caller, "ext-target"))["found"] == [tid]
    # One word of the name matches too (a blind index per word); a part of a word does not.
    for word in ("TARA", " target "):
        assert (await visible(api, world, caller, word))["found"] == [tid], word
    assert (await visible(api, world, caller, "ara"))["found"] == []
    for probe in (TARGET_EMAIL, "pii.target", "example.org", TARGET_PHONE, "5550199", OTHER_EMAIL):
        assert (await visible(api, world, caller, probe))["found"] == [], probe


@pytest.mark.parametrize("caller", ["ADMIN", "KEY_ADMIN", "AGENT_READ", "CUSTOMER_SELF"])
async def test_search_matches_pii_for_those_who_may_read_it(api, caller):
    world = await build_world(api)
    tid = to_global_id("Customer", world.target)
    # Email and phone are encrypted: they match exactly (normalised) through the blind index.
    for probe in (TARGET_EMAIL, f" {TARGET_EMAIL.upper()} ", TARGET_PHONE):
        assert (await visible(api, world, caller, probe))["found"] == [tid], probe
    for probe in ("pii.target", "5550199", "example.org"):
        assert (await visible(api, world, caller, probe))["found"] == [], probe


async def test_customer_sees_only_itself(api):
    world = await build_world(api)
    tid = to_global_id("Customer", world.target)
    seen = await visible(api, world, "CUSTOMER_SELF", "ext-")  # "ext-other" would match
    assert seen == {"customer": tid, "other": None, "list": [tid], "found": [tid]}
    me = await api.gql(
        "{ me { ... on Customer { id } } }", None, await world.callers["CUSTOMER_SELF"].token(api)
    )
    assert me == {"data": {"me": {"id": tid}}}
