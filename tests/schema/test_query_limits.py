"""Query limits (CONTRACT.md "Limits"): depth 10, aliases 30, tokens 5,000, `first` at most 100.

A query over a limit gets HTTP 200, `data: null` and one error coded QUERY_LIMIT, and no
resolver runs. Depth is measured on ordinary fields (messages → deliveries → customer →
permission history reaches eleven levels): introspection is exempt from it where it is on
(test_introspection.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from graphql import Lexer, Source, TokenKind

from tests.conftest import data, make_settings
from tests.sql_statements import statement_log
from tidings.api.app import create_app
from tidings.core.enums import Role
from tidings.core.models import Customer

# Each field with the type it returns, eleven levels down from Query. Small pages keep it within
# the cost limit (test_query_cost.py), which the default page sizes (20 × 50 × 50) are not.
CHAIN = (
    ("messages(first: 2)", "MessageConnection"),
    ("edges", "MessageEdge"),
    ("node", "Message"),
    ("deliveries(first: 2)", "DeliveryConnection"),
    ("edges", "DeliveryEdge"),
    ("node", "Delivery"),
    ("customer", "Customer"),
    ("permissionHistory(first: 2)", "PermissionGrantConnection"),
    ("edges", "PermissionGrantEdge"),
    ("node", "PermissionGrant"),
)


def _nest(steps: tuple[tuple[str, str], ...], leaf: str, inline: bool = False) -> str:
    selection = leaf
    for field, type_name in reversed(steps):
        inner = f"... on {type_name} {{ {selection} }}" if inline else selection
        selection = f"{field} {{ {inner} }}"
    return selection


def deep(levels: int) -> str:
    """An ordinary selection exactly `levels` fields deep (2 to 11), ending in __typename."""
    assert 2 <= levels <= len(CHAIN) + 1
    return _nest(CHAIN[: levels - 1], "__typename")


def via_fragments(levels: int) -> str:
    """The same depth, reached through named fragments."""
    (first, first_type), rest = CHAIN[0], CHAIN[1 : levels - 1]
    return (
        "{ ...S } "
        f"fragment S on Query {{ {first} {{ ...T }} }} "
        f"fragment T on {first_type} {{ {_nest(rest, '__typename')} }}"
    )


def via_inline_fragments(levels: int) -> str:
    return "{ ... on Query { " + _nest(CHAIN[: levels - 1], "__typename", inline=True) + " } }"


def aliases(count: int, field: str = "__typename") -> str:
    return " ".join(f"a{i}: {field}" for i in range(count))


def tokens_in(query: str) -> int:
    lexer = Lexer(Source(query))
    count = 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


def assert_limited(result: dict) -> None:
    assert result["data"] is None, result
    assert len(result["errors"]) == 1, result["errors"]
    assert result["errors"][0]["extensions"]["code"] == "QUERY_LIMIT", result["errors"]


async def post(api, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    """`api.gql` already insists on HTTP 200."""
    return await api.gql(query, variables, token)


# Depth --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build", [lambda n: "{ " + deep(n) + " }", via_fragments, via_inline_fragments]
)
async def test_depth_of_ten_passes_and_eleven_is_refused(api, build):
    _, token = await api.staff(Role.ADMIN)
    passed = await post(api, build(10), None, token)
    assert data(passed)["messages"] == {"edges": []}
    assert_limited(await post(api, build(11), None, token))


async def test_depth_counts_a_fragment_spread_below_fields(api):
    query = "{ messages { edges { node { ...Deep } } } } fragment Deep on Message { " + (
        _nest(CHAIN[3:], "__typename") + " }"
    )
    assert_limited(await post(api, query))


async def test_over_depth_runs_no_resolver(api):
    _, token = await api.staff(Role.ADMIN)
    with statement_log() as allowed:
        result = await post(
            api, "{ customers { edges { node { id } } } " + deep(10) + " }", None, token
        )
    assert data(result)["customers"]["edges"] == []
    with statement_log() as refused:
        result = await post(
            api, "{ customers { edges { node { id } } } " + deep(11) + " }", None, token
        )
    assert_limited(result)
    # The bearer token is checked before the operation (one statement); the customers and
    # messages resolvers' queries run only when the operation is allowed.
    assert len(allowed.statements) == 3, allowed.statements
    assert len(refused.statements) == 1, refused.statements


# Aliases ------------------------------------------------------------------------------------


async def test_thirty_aliases_pass_and_thirty_one_are_refused(api):
    assert len(data(await post(api, "{ " + aliases(30) + " }"))) == 30
    assert_limited(await post(api, "{ " + aliases(31) + " }"))


async def test_aliases_inside_fragments_count(api):
    inside = " ".join(f"f{i}: __typename" for i in range(15))
    at_limit = "{ ...F " + aliases(15) + " } fragment F on Query { " + inside + " }"
    assert len(data(await post(api, at_limit))) == 30
    over = "{ ...F " + aliases(16) + " } fragment F on Query { " + inside + " }"
    assert_limited(await post(api, over))
    inline = "{ ... on Query { " + aliases(31) + " } }"
    assert_limited(await post(api, inline))


async def test_over_alias_mutation_changes_nothing(api):
    _, token = await api.staff(Role.ADMIN)

    def creates(count: int, prefix: str) -> str:
        return (
            "mutation { "
            + " ".join(
                f'c{i}: createCustomer(input: {{externalId: "{prefix}-{i}"}}) '
                "{ errors { code } }"
                for i in range(count)
            )
            + " }"
        )

    assert_limited(await post(api, creates(31, "over"), None, token))
    assert await Customer.all().count() == 0
    assert len(data(await post(api, creates(30, "at"), None, token))) == 30
    assert await Customer.all().count() == 30


# Tokens -------------------------------------------------------------------------------------


def create_with_attributes(external_id: str, numbers: int) -> str:
    """A createCustomer mutation padded with a JSON list: one token per number, no sibling
    fields (graphql-core's own overlap check gives up on thousands of repeated fields)."""
    values = ", ".join("1" * numbers)
    return (
        f'mutation {{ createCustomer(input: {{externalId: "{external_id}", '
        f"attributes: {{n: [{values}]}}}}) {{ errors {{ code }} }} }}"
    )


async def test_five_thousand_tokens_pass_and_one_more_changes_nothing(api):
    _, token = await api.staff(Role.ADMIN)
    padding = 5000 - tokens_in(create_with_attributes("x", 0))
    over = create_with_attributes("over", padding + 1)
    assert tokens_in(over) == 5001
    assert_limited(await post(api, over, None, token))
    assert await Customer.all().count() == 0

    at_limit = create_with_attributes("at", padding)
    assert tokens_in(at_limit) == 5000
    assert data(await post(api, at_limit, None, token))["createCustomer"]["errors"] == []
    assert len((await Customer.get(external_id="at")).attributes["n"]) == padding


async def test_huge_documents_are_refused_as_over_the_token_limit(api):
    assert_limited(await post(api, "{ " + "__typename " * 50_000 + "}"))


# Page size ----------------------------------------------------------------------------------

EDGES = "{ edges { node { id } } }"
OVER_PAGE = [
    pytest.param("{ customers(first: 101) " + EDGES + " }", {}, id="literal"),
    pytest.param("{ customers(first: -1) " + EDGES + " }", {}, id="negative"),
    pytest.param(
        "query($n: Int) { customers(first: $n) " + EDGES + " }", {"n": 101}, id="variable"
    ),
    pytest.param(
        "query($n: Int = 101) { customers(first: $n) " + EDGES + " }", {}, id="variable-default"
    ),
    pytest.param(
        "{ customers(first: 1) { edges { node { permissionHistory(first: 101) "
        "{ edges { cursor } } } } } }",
        {},
        id="nested-connection",
    ),
    pytest.param(
        "{ ...F } fragment F on Query { customers(first: 101) " + EDGES + " }",
        {},
        id="in-fragment",
    ),
    pytest.param(
        "{ ... on Query { customers(first: 1000000) " + EDGES + " } }", {}, id="inline-fragment"
    ),
]


@pytest.mark.parametrize(("query", "variables"), OVER_PAGE)
async def test_first_over_one_hundred_is_refused(api, query, variables):
    _, token = await api.staff(Role.ADMIN)
    assert_limited(await post(api, query, variables, token))


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ customers(first: 100) " + EDGES + " }", {}),
        ("query($n: Int) { customers(first: $n) " + EDGES + " }", {"n": 100}),
        ("query($n: Int = 100) { customers(first: $n) " + EDGES + " }", {}),
        ("{ customers(first: 0) " + EDGES + " }", {}),
        (
            "{ customers(first: 100) { edges { node { permissionHistory(first: 100) "
            "{ edges { cursor } } } } } }",
            {},
        ),
    ],
)
async def test_first_up_to_one_hundred_passes(api, query, variables):
    _, token = await api.staff(Role.ADMIN)
    assert data(await post(api, query, variables, token))["customers"]["edges"] == []


async def test_over_page_mutation_changes_nothing(api):
    _, token = await api.staff(Role.ADMIN)

    def create(external_id: str, first: int) -> str:
        return (
            f'mutation {{ createCustomer(input: {{externalId: "{external_id}"}}) '
            f"{{ customer {{ permissionHistory(first: {first}) {{ edges {{ cursor }} }} }} }} }}"
        )

    assert_limited(await post(api, create("over", 101), None, token))
    assert await Customer.all().count() == 0
    created = data(await post(api, create("at", 100), None, token))["createCustomer"]
    assert created["customer"]["permissionHistory"]["edges"] == []
    assert await Customer.filter(external_id="at").count() == 1


# Settings -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def client_with(db: str, **overrides: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(db, **overrides), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.mark.parametrize(
    ("setting", "allowed", "refused"),
    [
        ("TIDINGS_MAX_QUERY_DEPTH=6", "{ " + deep(6) + " }", "{ " + deep(7) + " }"),
        ("TIDINGS_MAX_QUERY_ALIASES=3", "{ " + aliases(3) + " }", "{ " + aliases(4) + " }"),
        (
            "TIDINGS_MAX_QUERY_TOKENS=10",
            "{ " + "__typename " * 8 + "}",
            "{ " + "__typename " * 9 + "}",
        ),
        (
            "TIDINGS_MAX_PAGE_SIZE=10",
            "{ customers(first: 10) " + EDGES + " }",
            "{ customers(first: 11) " + EDGES + " }",
        ),
        (
            # 1 + 10 × (edges 1 + node 1 + id 1) = 31
            "TIDINGS_MAX_QUERY_COST=31",
            "{ customers(first: 10) " + EDGES + " }",
            "{ customers(first: 11) " + EDGES + " }",
        ),
    ],
)
async def test_limits_follow_settings(db, api, setting, allowed, refused):
    name, value = setting.split("=")
    _, token = await api.staff(Role.ADMIN)
    headers = {"Authorization": f"Bearer {token}"}
    async with client_with(db, **{name: value}) as client:
        ok = await client.post("/graphql", json={"query": allowed}, headers=headers)
        assert ok.status_code == 200
        assert data(ok.json())
        over = await client.post("/graphql", json={"query": refused}, headers=headers)
        assert over.status_code == 200
        assert_limited(over.json())
    # The same refused query is within the defaults.
    assert data(await post(api, refused, None, token))


# Documents that must not hang or crash ----------------------------------------------------


async def test_recursive_fragments_are_a_validation_error(api):
    for query in (
        "{ ...A } fragment A on Query { ...A }",
        "{ ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }",
        "{ __schema { ...S } } fragment S on __Schema { types { name } ...S }",
    ):
        result = await post(api, query)  # HTTP 200, not a 500
        assert result["data"] is None
        assert result["errors"]
        assert "within itself" in result["errors"][0]["message"], result["errors"]
        assert (
            "extensions" not in result["errors"][0]
            or result["errors"][0]["extensions"].get("code") != "QUERY_LIMIT"
        )


async def test_fragments_spread_twice_per_level_cost_linear_time(api):
    """Each fragment spreads the next twice: 2^22 paths, 23 fragments. Checked in no time."""
    count = 22
    fragments = "".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }} " for i in range(count)
    )
    query = "{ ...F0 } " + fragments + f"fragment F{count} on Query {{ __typename }}"
    started = time.perf_counter()
    result = await post(api, query)
    assert time.perf_counter() - started < 2
    assert data(result) == {"__typename": "Query"}


async def test_long_fragment_chains_and_deep_nesting_are_refused_cleanly(api):
    """Hundreds of chained fragments or nested selections, within the token limit: graphql-core
    gives up on them, and the limit checks themselves must not fail first (a recursion error
    there came back as "Unexpected error.")."""
    chain = (
        "{ ...F0 } "
        + "".join(f"fragment F{i} on Query {{ ...F{i + 1} }} " for i in range(500))
        + "fragment F500 on Query { __typename }"
    )
    nested = "{ " + "__schema { " * 1600 + "}" * 1601
    for query in (chain, nested):
        assert tokens_in(query) <= 5000
        result = await post(api, query)
        assert result["data"] is None
        assert len(result["errors"]) == 1
        assert result["errors"][0]["message"] != "Unexpected error.", result["errors"]
