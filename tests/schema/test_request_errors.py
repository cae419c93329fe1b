"""Requests the schema cannot run: a syntax error is coded GRAPHQL_PARSE_FAILED; where
introspection is off (production) no error suggests a name ("Did you mean ...?" spells out
the schema), where it is on (development) they do; a variable's value that does not fit is
answered with graphql-core's message, not masked. And the domain's errors reach clients
with their codes although `tidings.core` carries no GraphQL vocabulary."""

from __future__ import annotations

import pytest

from tests.schema.test_query_limits import client_with
from tidings.core.enums import Role
from tidings.core.errors import ForbiddenError, NotFoundError, UnauthenticatedError

SYNTAX_ERRORS = ["{ customers { edges { cursor } }", "query {", "{ customers(first: ) { nodes }"]

# (document, variables, the name a suggestion would reveal)
MISSPELT = [
    pytest.param("{ custmers { edges { cursor } } }", None, "'customers'", id="field"),
    pytest.param("{ customers(tir: HIGH_VALUE) { nodes { id } } }", None, "'tier'", id="argument"),
    pytest.param(
        "{ customers(tier: HIGH_VALU) { nodes { id } } }", None, "HIGH_VALUE", id="enum-literal"
    ),
    pytest.param(
        "query($t: Tiers) { customers(tier: $t) { nodes { id } } }", None, "'Tier'", id="type"
    ),
    pytest.param(
        "query($t: Tier) { customers(tier: $t) { nodes { id } } }",
        {"t": "HIGH_VALU"},
        "HIGH_VALUE",
        id="enum-variable",
    ),
    pytest.param(
        "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { errors { code } } }",
        {"i": {"externalId": "x", "emial": "x@example.com"}},
        "'email'",
        id="input-field-variable",
    ),
]


async def messages(client, query: str, variables: dict | None, token: str) -> list[str]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["data"] is None, result
    return [e["message"] for e in result["errors"]]


async def admin_token(api) -> str:
    _, token = await api.staff(Role.ADMIN)
    return token


@pytest.mark.parametrize("query", SYNTAX_ERRORS)
@pytest.mark.parametrize("env", ["development", "production"])
async def test_a_syntax_error_is_coded_parse_failed(db, query, env):
    async with client_with(db, TIDINGS_ENV=env) as client:
        result = (await client.post("/graphql", json={"query": query})).json()
    assert result["data"] is None
    [error] = result["errors"]
    assert error["message"].startswith("Syntax Error"), error
    assert error["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}


@pytest.mark.parametrize(("query", "variables", "name"), MISSPELT)
async def test_development_suggests_names(api, query, variables, name):
    found = await messages(api.client, query, variables, await admin_token(api))
    assert any("Did you mean" in m and name in m for m in found), found


@pytest.mark.parametrize(("query", "variables", "name"), MISSPELT)
async def test_production_suggests_nothing(db, api, query, variables, name):
    token = await admin_token(api)
    async with client_with(db, TIDINGS_ENV="production") as client:
        found = await messages(client, query, variables, token)
    assert found and "Unexpected error." not in found, found
    for message in found:
        assert "Did you mean" not in message and name not in message, found


async def test_a_variable_that_does_not_fit_is_explained_not_masked(api):
    found = await messages(
        api.client,
        "query($t: Tier) { customers(tier: $t) { nodes { id } } }",
        {"t": "NOBODY"},
        await admin_token(api),
    )
    assert found == [
        "Variable '$t' has invalid value: Value 'NOBODY' does not exist in 'Tier' enum."
    ]


def test_domain_errors_carry_no_graphql_extensions():
    """graphql-core adopts an exception's `extensions`: the schema maps them instead."""
    for error in (NotFoundError("id"), ForbiddenError("no"), UnauthenticatedError("no")):
        assert not hasattr(error, "extensions"), type(error).__name__


async def test_domain_errors_reach_clients_with_their_codes(api):
    _, marketer = await api.staff(Role.MARKETER)
    bad_cursor = await api.gql('{ customers(after: "garbage") { nodes { id } } }', None, marketer)
    assert bad_cursor["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "reason": "INVALID_CURSOR",
        "field": "after",
    }
    # The service refuses the role (ForbiddenError) below a gate that lets any caller by.
    created = await api.gql(
        'mutation { createCustomer(input: {externalId: "e-1"}) { customer { id } } }',
        None,
        await admin_token(api),
    )
    refused = await api.gql(
        "mutation($c: ID) { revokeCustomerTokens(customerId: $c) { errors { code } } }",
        {"c": created["data"]["createCustomer"]["customer"]["id"]},
        marketer,
    )
    assert refused["data"] == {"revokeCustomerTokens": None}
    assert [e["extensions"] for e in refused["errors"]] == [{"code": "FORBIDDEN"}]
    assert refused["errors"][0]["message"] != "Unexpected error."
