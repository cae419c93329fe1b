"""Introspection in development: the standard query that GraphiQL, codegen tools and
schemathesis send passes the depth limit (it is 13-15 levels deep), while the token and alias
limits still apply to it, ordinary fields beside it keep their depth limit, and nesting the
introspection lists themselves is bounded. In production introspection stays off."""

from __future__ import annotations

import pytest
from graphql import get_introspection_query

from tests.conftest import data
from tests.schema.test_query_limits import aliases, assert_limited, client_with, deep, tokens_in
from tidings.core.enums import Role

EVERY_OPTION = {
    "descriptions": True,
    "specified_by_url": True,
    "directive_is_repeatable": True,
    "schema_description": True,
    "input_value_deprecation": True,
    "one_of": True,
}
STANDARD = [
    pytest.param(get_introspection_query(), id="default"),
    pytest.param(get_introspection_query(**EVERY_OPTION), id="every-option"),
]
OPENING = "query IntrospectionQuery {"


def beside(query: str, selection: str) -> str:
    """The introspection document with `selection` added to its operation."""
    assert OPENING in query
    return query.replace(OPENING, f"{OPENING} {selection}", 1)


@pytest.mark.parametrize("query", STANDARD)
async def test_the_standard_introspection_query_loads_the_schema(api, query):
    schema = data(await api.gql(query))["__schema"]
    names = {t["name"] for t in schema["types"]}
    assert {"Query", "Mutation", "Customer", "__Schema"} <= names
    assert schema["queryType"]["name"] == "Query"


@pytest.mark.parametrize("query", STANDARD)
async def test_the_standard_introspection_query_is_refused_in_production(db, query):
    async with client_with(db, TIDINGS_ENV="production") as client:
        result = (await client.post("/graphql", json={"query": query})).json()
    assert result["data"] is None
    assert result["errors"], result


async def test_ordinary_fields_beside_introspection_keep_the_depth_limit(api):
    _, token = await api.staff(Role.ADMIN)
    query = get_introspection_query()
    assert data(await api.gql(beside(query, deep(10)), None, token))["messages"] == {"edges": []}
    assert_limited(await api.gql(beside(query, deep(11)), None, token))


async def test_introspection_keeps_the_token_and_alias_limits(api):
    query = get_introspection_query()
    padded = query.replace("__schema {", "__schema { " + "__typename " * 5000, 1)
    assert tokens_in(padded) > 5000
    assert_limited(await api.gql(padded))
    assert_limited(await api.gql(beside(query, aliases(31))))
    assert data(await api.gql(beside(query, aliases(30))))["a29"] == "Query"


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
        '{ __type(name: "Customer") { interfaces { possibleTypes { interfaces { name } } } } }',
        "{ __schema { types { ...F } } } "
        "fragment F on __Type { fields { type { fields { type { inputFields { name } } } } } }",
    ],
)
async def test_nested_introspection_lists_are_refused(api, query):
    """Exempt from the depth limit, introspection could nest `fields { type { fields ...`
    to multiply its answer at each level; graphql-js bounds such lists at three."""
    assert_limited(await api.gql(query))


async def test_a_bounded_introspection_nesting_passes(api):
    query = '{ __type(name: "Customer") { fields { type { ofType { fields { name } } } } } }'
    assert data(await api.gql(query))["__type"]["fields"]
