"""`customers` loads its page's grants and preferences ahead when the query asks for them
(schema/lookahead.py): found under aliases and fragments, not loaded when not asked for, the
same answer and statements as resolving them node by node, and a failing load still fails at
the node's field, not at `customers`."""

from __future__ import annotations

from tests.conftest import data
from tests.schema.test_query_counts import populate
from tests.sql_statements import statement_log
from tidings.core.enums import Role
from tidings.schema.ids import to_global_id

PLAIN = """
{ customers(first: 3) { edges { node { id
    permissionGrants { channel status } preferences { category } } } } }
"""
FRAGMENTS = """
query { customers(first: 3) { ...Page } }
fragment Page on CustomerConnection { edges { node { ...Profile } } }
fragment Profile on Customer {
  id
  ... on Customer { g: permissionGrants { channel status } }
  p: preferences { category }
}
"""
NEITHER = "{ customers(first: 3) { edges { node { id externalId } } } }"
SINGLE = "query($id: ID!) { customer(id: $id) { permissionGrants { channel } preferences { category } } }"


async def run(api, query: str, token: str, variables: dict | None = None) -> tuple[dict, list]:
    with statement_log() as log:
        result = await api.gql(query, variables, token)
    return result, [t for t in log.tables() if t in ("permission_states", "preferences")]


async def test_aliases_and_fragments_are_looked_ahead(api):
    await populate()
    _, token = await api.staff(Role.ADMIN)
    plain, plain_tables = await run(api, PLAIN, token)
    fragments, fragment_tables = await run(api, FRAGMENTS, token)
    nodes = [edge["node"] for edge in data(plain)["customers"]["edges"]]
    aliased = [edge["node"] for edge in data(fragments)["customers"]["edges"]]
    assert [n["permissionGrants"] for n in nodes] == [n["g"] for n in aliased]
    assert [n["preferences"] for n in nodes] == [n["p"] for n in aliased]
    assert [len(n["permissionGrants"]) for n in nodes] == [2, 2, 2]
    assert plain_tables == fragment_tables == ["permission_states", "preferences"]


async def test_nothing_is_loaded_ahead_that_the_query_does_not_ask_for(api):
    await populate()
    _, token = await api.staff(Role.ADMIN)
    result, tables = await run(api, NEITHER, token)
    assert len(data(result)["customers"]["edges"]) == 3
    assert tables == []


async def test_a_single_customer_still_loads_its_lists(api):
    """Outside a page nothing is loaded ahead: the fields await their loaders."""
    customer_ids = await populate()
    _, token = await api.staff(Role.ADMIN)
    result, tables = await run(
        api, SINGLE, token, {"id": to_global_id("Customer", customer_ids[0])}
    )
    customer = data(result)["customer"]
    assert [g["channel"] for g in customer["permissionGrants"]] == ["email", "sms"]
    assert [p["category"] for p in customer["preferences"]] == ["news", "offers"]
    assert tables == ["permission_states", "preferences"]


async def test_a_failed_load_fails_at_the_field_not_the_page(api, monkeypatch):
    await populate()
    _, token = await api.staff(Role.ADMIN)
    consent = api.runtime.services.consent

    async def broken(ids: list) -> list:
        raise RuntimeError("grants are unavailable")

    monkeypatch.setattr(consent, "states_for", broken)
    result = await api.gql(PLAIN, None, token)
    errors = result["errors"]
    assert errors, result
    # Each node's permissionGrants failed (non-null, so the node's edge is null), and the
    # error points at the field, not at `customers`.
    assert all(error["path"][-1] == "permissionGrants" for error in errors)
    assert all(error["path"][0] == "customers" and len(error["path"]) > 1 for error in errors)
