"""The query cost limit (TIDINGS_MAX_QUERY_COST, 50,000): every field 1, a connection multiplies
what it selects by its page size, other lists of objects by 10; counted from the document and
its variables before any resolver runs, like the other limits (test_query_limits.py)."""

from __future__ import annotations

import time

import pytest
from graphql import get_introspection_query

from tests.conftest import data
from tests.schema.test_query_limits import CHAIN, _nest, assert_limited, post
from tests.sql_statements import statement_log
from tidings.core.enums import Role
from tidings.core.models import Message
from tidings.schema import SchemaOptions, build_schema
from tidings.schema.extensions.query_cost import PLAIN_LIST_SIZE

HISTORY = "permissionHistory(first: 100) { edges { node { id channel status } } }"
# Issue 10: within every other limit, 100 customers × 29 aliases × 100 history entries.
ISSUE_DOCUMENT = (
    "{ customers(first: 100) { edges { node { id "
    + " ".join(f"h{i}: {HISTORY}" for i in range(29))
    + " } } } }"
)
# What the console shows on its customers page.
CONSOLE_PAGE = """
query {
  customers(first: 20) {
    edges { cursor node {
      id externalId name email emailMasked tier locale timezone
      permissionGrants { id channel category status grantedAt expiresAt }
      preferences { category channels frequency quietHours { start end } }
      devices { id platform lastSeenAt }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_the_issues_document_is_refused_before_any_resolver_runs(api):
    _, token = await api.staff(Role.ADMIN)
    with statement_log() as log:
        result = await post(api, ISSUE_DOCUMENT, None, token)
    assert_limited(result)
    assert "costs" in result["errors"][0]["message"]
    # Only the bearer token's lookup, made before the operation is considered.
    assert log.tables() == ["staff"]


async def test_an_ordinary_console_page_passes(api):
    _, token = await api.staff(Role.ADMIN)
    assert data(await post(api, CONSOLE_PAGE, None, token))["customers"]["edges"] == []


async def test_the_standard_introspection_query_passes(api):
    """Exempt, as from the depth limit: its lists would otherwise multiply to millions."""
    schema = data(await post(api, get_introspection_query(descriptions=True)))["__schema"]
    assert schema["queryType"]["name"] == "Query"


async def test_default_page_sizes_count_when_first_is_left_out(api):
    """messages (20) × deliveries (50) × permissionHistory (50): 104,061, refused; the same
    chain with pages of 2 passes (it is test_query_limits' depth-10 document)."""
    _, token = await api.staff(Role.ADMIN)
    small = _nest(CHAIN[:9], "__typename")
    defaults = small.replace("(first: 2)", "")
    assert data(await post(api, "{ " + small + " }", None, token))["messages"] == {"edges": []}
    assert_limited(await post(api, "{ " + defaults + " }", None, token))


FRAGMENT = "fragment H on Customer { " + " ".join(f"h{i}: {HISTORY}" for i in range(29)) + " }"


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        pytest.param(
            "{ customers(first: 100) { edges { node { ...H } } } } " + FRAGMENT, {}, id="named"
        ),
        pytest.param(
            "{ customers(first: 100) { edges { node { ... on Customer { "
            + " ".join(f"h{i}: {HISTORY}" for i in range(29))
            + " } } } } }",
            {},
            id="inline",
        ),
        pytest.param(
            "query($n: Int) { customers(first: $n) { edges { node { ...H } } } } " + FRAGMENT,
            {"n": 100},
            id="variable",
        ),
        pytest.param(
            "query($n: Int = 100) { customers(first: $n) { edges { node { ...H } } } } " + FRAGMENT,
            {},
            id="variable-default",
        ),
    ],
)
async def test_fragments_and_variables_are_counted(api, query, variables):
    _, token = await api.staff(Role.ADMIN)
    assert_limited(await post(api, query, variables, token))
    # The same document for one customer is well within the limit.
    small = {**variables, "n": 1} if "$n" in query else variables
    one = query.replace("customers(first: 100)", "customers(first: 1)")
    assert data(await post(api, one.replace("$n: Int = 100", "$n: Int = 1"), small, token))


async def test_a_field_selected_twice_under_one_name_counts_once(api):
    """Execution merges them, so they run once: two fragments selecting the same 15 aliases
    cost what one does (1 + 6 × (2 + 15 × 501) = 45,103), while 15 other aliases in the
    second fragment double it (90,193)."""
    _, token = await api.staff(Role.ADMIN)

    def aliases(prefix: str) -> str:
        return " ".join(f"{prefix}{i}: {HISTORY}" for i in range(15))

    def document(second: str) -> str:
        return (
            "{ customers(first: 6) { edges { node { ...A ...B } } } } "
            f"fragment A on Customer {{ {aliases('h')} }} "
            f"fragment B on Customer {{ {aliases(second)} }}"
        )

    assert data(await post(api, document("h"), None, token))["customers"]["edges"] == []
    assert_limited(await post(api, document("g"), None, token))


async def test_plain_lists_multiply_by_a_constant(api):
    """permissionGrants has no `first`: it counts as PLAIN_LIST_SIZE items."""
    _, token = await api.staff(Role.ADMIN)
    grants = "permissionGrants { id channel category status source grantedAt }"  # 1 + 10 × 6
    assert PLAIN_LIST_SIZE == 10
    # 1 + 100 × (1 + 1 + 29 × 61) = 177,101: over; 1 + 20 × (2 + 8 × 61) = 9,801: within.
    many = " ".join(f"g{i}: {grants}" for i in range(29))
    assert_limited(
        await post(
            api, "{ customers(first: 100) { edges { node { " + many + " } } } }", None, token
        )
    )
    few = " ".join(f"g{i}: {grants}" for i in range(8))
    result = await post(
        api, "{ customers(first: 20) { edges { node { " + few + " } } } }", None, token
    )
    assert data(result)["customers"]["edges"] == []


# A message's deliveries, each with its customer's history: 1 + 100 × (3 + 301) = 30,401.
PAGES = (
    "deliveries(first: 100) { edges { node { customer { "
    "permissionHistory(first: 100) { edges { node { id } } } } } } }"
)


async def test_mutations_are_costed_and_change_nothing_when_refused(api):
    _, token = await api.staff(Role.ADMIN)
    send = (
        'mutation { send(input: {idempotencyKey: "costly", category: "news", '
        'to: {customerIds: []}, content: {title: "t", body: "b"}}) '
        f"{{ message {{ a: {PAGES} b: {PAGES} }} errors {{ code }} }} }}"
    )
    assert_limited(await post(api, send, None, token))
    assert await Message.all().count() == 0


async def test_a_subscription_document_is_costed_too():
    """A staff member following a message could otherwise ask, for every delivery event, for
    two pages of 100 deliveries × 100 history entries each (60,804)."""
    schema = build_schema(SchemaOptions())
    document = (
        'subscription { deliveryUpdates(messageId: "TWVzc2FnZTox") { message { '
        f"a: {PAGES} b: {PAGES} }} }} }}"
    )
    stream = await schema.subscribe(document)
    result = await anext(stream)
    await stream.aclose()
    assert result.data is None
    (error,) = result.errors
    assert error.extensions == {"code": "QUERY_LIMIT"}
    assert "60804" in error.message


async def test_fragments_spread_twice_per_level_are_costed_in_linear_time(api):
    """Each fragment spreads the next twice: 2^22 paths to one merged field, which runs once
    and is costed once (1 + 100 × (2 + 1 + 101) = 10,401), in no time."""
    _, token = await api.staff(Role.ADMIN)
    count = 22
    fragments = "".join(
        f"fragment F{i} on Customer {{ ...F{i + 1} ...F{i + 1} }} " for i in range(count)
    )
    query = (
        "{ customers(first: 100) { edges { node { ...F0 } } } } "
        + fragments
        + f"fragment F{count} on Customer {{ id permissionHistory(first: 50) {{ nodes {{ id }} }} }}"
    )
    started = time.perf_counter()
    result = await post(api, query, None, token)
    assert time.perf_counter() - started < 2
    assert data(result)["customers"]["edges"] == []
