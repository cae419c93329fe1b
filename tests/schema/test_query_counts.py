"""No N+1: a page of customers with their grants, preferences, evidence and devices costs the
same number of SQL statements whatever the page size.

Statements are counted from tortoise's own debug log (see tests/sql_statements.py).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import Api, data, make_settings
from tests.sql_statements import statement_log
from tidings.api.app import create_app
from tidings.core.delivery.claims import is_postgres
from tidings.core.enums import (
    AccessAction,
    CategoryKind,
    DeliveryStatus,
    Frequency,
    GrantStatus,
    MessageStatus,
    Platform,
    Role,
)
from tidings.core.ids import new_id
from tidings.core.models import (
    AccessGrant,
    Category,
    Customer,
    Delivery,
    Device,
    Message,
    PermissionEntry,
    PermissionState,
    Preference,
)
from tidings.schema.ids import to_global_id

CUSTOMERS = 105
SIZES = (5, 50, 100)

PROFILE = """
query($first: Int) {
  customers(first: $first) {
    edges { node {
      id externalId name email emailMasked tier
      permissionGrants { channel category status grantedAt }
      preferences { category channels frequency quietHours { start end } }
    } }
  }
}
"""
EVIDENCE = """
query($first: Int) {
  customers(first: $first) {
    edges { node { id permissionGrants { channel evidence recordedBy } } }
  }
}
"""
DEVICES = """
query($first: Int) {
  customers(first: $first) { edges { node { id devices { id platform lastSeenAt } } } }
}
"""


async def populate() -> list[uuid.UUID]:
    """Customers, each with two grants (ledger and state), two preferences and a device."""
    now = datetime.now(UTC)
    customers = [
        Customer(
            id=new_id(),
            external_id=f"n1-{i:03}",
            name=f"Customer {i}",
            email=f"c{i}@example.com",
            attributes={},
        )
        for i in range(CUSTOMERS)
    ]
    await Customer.bulk_create(customers)
    entries, states, preferences, devices = [], [], [], []
    for customer in customers:
        for channel in ("email", "sms"):
            entry = PermissionEntry(
                id=new_id(),
                customer_id=customer.id,
                channel=channel,
                category="news",
                status=GrantStatus.GRANTED,
                source="signup_form",
                evidence={"ip": "192.0.2.1", "notice": "v3"},
                granted_at=now,
                recorded_by="api",
            )
            entries.append(entry)
            states.append(
                PermissionState(
                    id=new_id(),
                    customer_id=customer.id,
                    channel=channel,
                    category="news",
                    status=GrantStatus.GRANTED,
                    source="signup_form",
                    granted_at=now,
                    entry_id=entry.id,
                )
            )
        for category in ("news", "offers"):
            preferences.append(
                Preference(
                    id=new_id(),
                    customer_id=customer.id,
                    category=category,
                    channels=["email"],
                    frequency=Frequency.DAILY_DIGEST,
                    quiet_start="22:00",
                    quiet_end="08:00",
                )
            )
        devices.append(
            Device(
                id=new_id(),
                customer_id=customer.id,
                platform=Platform.ANDROID,
                token=f"token-{customer.id.hex}",
                token_hash=customer.id.hex,
                last_seen_at=now,
            )
        )
    await PermissionEntry.bulk_create(entries)
    await PermissionState.bulk_create(states)
    await Preference.bulk_create(preferences)
    await Device.bulk_create(devices)
    return [customer.id for customer in customers]


async def count(api, query: str, first: int, token: str) -> tuple[int, list[str], dict]:
    with statement_log() as log:
        result = await api.gql(query, {"first": first}, token)
    return len(log.statements), log.tables(), data(result)


async def counts_for(api, query: str, token: str) -> dict[int, tuple[int, list[str]]]:
    found = {}
    for first in SIZES:
        statements, tables, result = await count(api, query, first, token)
        nodes = [edge["node"] for edge in result["customers"]["edges"]]
        assert len(nodes) == first
        found[first] = (statements, tables)
        check_nodes(query, nodes)
    return found


def check_nodes(query: str, nodes: list[dict]) -> None:
    """The batched data is really there, for every customer on the page."""
    for node in nodes:
        if query is PROFILE:
            assert node["email"] and node["emailMasked"].endswith("@example.com")
            assert [g["channel"] for g in node["permissionGrants"]] == ["email", "sms"]
            assert [p["category"] for p in node["preferences"]] == ["news", "offers"]
            assert node["preferences"][0]["quietHours"] == {"start": "22:00", "end": "08:00"}
        elif query is EVIDENCE:
            assert [g["evidence"] for g in node["permissionGrants"]] == [
                {"ip": "192.0.2.1", "notice": "v3"}
            ] * 2
            assert {g["recordedBy"] for g in node["permissionGrants"]} == {"api"}
        else:
            assert [d["platform"] for d in node["devices"]] == ["ANDROID"]


# Personal data read on a page is recorded once for the whole page: the chain's tail, then
# one multi-row INSERT (after PostgreSQL's advisory lock, left out here).
AUDIT_APPEND = ["audit_entries", "audit_entries"]
# On PostgreSQL the tail is guessed (this process appended last) and checked in the INSERT.
AUDIT_APPEND_PG = ["audit_entries"]
AUDIT_LOCK = "SELECT pg_advisory_xact_lock"


def assert_constant(found: dict[int, tuple[int, list[str]]], expected: list[str]) -> None:
    for first, (statements, tables) in found.items():
        tables = [t for t in tables if not t.startswith(AUDIT_LOCK)]
        audit = AUDIT_APPEND_PG if is_postgres() else AUDIT_APPEND
        assert tables == expected + audit, f"first={first}: {statements} statements on {tables}"


# The statements, by the first table each names, in the order they run: the bearer token's
# staff row, then (for an agent) its access grants, the page of customers, then one batch
# per loader.
ADMIN_PROFILE = ["staff", "customers", "permission_states", "preferences"]
AGENT_PROFILE = ["staff", "access_grants", "customers", "permission_states", "preferences"]


@pytest.mark.parametrize(
    ("role", "query", "expected"),
    [
        (Role.ADMIN, PROFILE, ADMIN_PROFILE),
        (Role.AGENT, PROFILE, AGENT_PROFILE),
        (
            Role.ADMIN,
            EVIDENCE,
            ["staff", "customers", "permission_states", "permission_entries"],
        ),
        (
            Role.AGENT,
            EVIDENCE,
            ["staff", "access_grants", "customers", "permission_states", "permission_entries"],
        ),
        (Role.ADMIN, DEVICES, ["staff", "customers", "devices"]),
        (Role.AGENT, DEVICES, ["staff", "access_grants", "customers", "devices"]),
    ],
    ids=[
        "admin-profile",
        "agent-profile",
        "admin-evidence",
        "agent-evidence",
        "admin-devices",
        "agent-devices",
    ],
)
async def test_statement_count_does_not_grow_with_the_page(api, role, query, expected):
    customer_ids = await populate()
    staff_id, token = await api.staff(role)
    if role is Role.AGENT:
        await AccessGrant.bulk_create(
            [
                AccessGrant(
                    id=new_id(),
                    staff_id=staff_id,
                    customer_id=customer_id,
                    actions=[AccessAction.READ.value],
                    created_by="test",
                )
                for customer_id in customer_ids
            ]
        )
    found = await counts_for(api, query, token)
    assert_constant(found, expected)
    assert len(expected) <= 6


# Messages: each message's category, and each delivery's message, come in one batch a page.
MESSAGE_CATEGORIES = """
query($first: Int) { messages(first: $first) { nodes { id category { key name kind } } } }
"""
DELIVERY_MESSAGES = """
query($id: ID!, $first: Int) {
  message(id: $id) { deliveries(first: $first) { nodes { id message { id category { key } } } } }
}
"""


async def populate_messages(customer_ids: list[uuid.UUID]) -> uuid.UUID:
    """A message per customer, each in a category of its own; the first message has a
    delivery to every customer. Returns the first message's id."""
    categories = [
        Category(
            key=f"cat-{i:03}",
            name=f"Category {i}",
            kind=CategoryKind.MARKETING,
            respect_quiet_hours=True,
        )
        for i in range(len(customer_ids))
    ]
    await Category.bulk_create(categories)
    messages = [
        Message(
            id=new_id(),
            category=category.key,
            status=MessageStatus.EXPANDED,
            idempotency_scope="test",
            idempotency_key=f"n1-{i:03}",
            request_hash="x",
            audience={},
            created_by="test",
        )
        for i, category in enumerate(categories)
    ]
    await Message.bulk_create(messages)
    first = messages[0]
    await Delivery.bulk_create(
        [
            Delivery(
                id=new_id(),
                message_id=first.id,
                customer_id=customer_id,
                channel="email",
                status=DeliveryStatus.SENT,
            )
            for customer_id in customer_ids
        ]
    )
    return first.id


async def test_categories_and_messages_are_batched(api):
    first_message = await populate_messages(await populate())
    _, token = await api.staff(Role.ADMIN)
    message_id = to_global_id("Message", first_message)
    for first in SIZES:
        with statement_log() as log:
            result = data(await api.gql(MESSAGE_CATEGORIES, {"first": first}, token))
        nodes = result["messages"]["nodes"]
        assert len(nodes) == first
        assert all(n["category"]["key"].startswith("cat-") for n in nodes)
        assert log.tables() == ["staff", "messages", "categories"], (first, log.tables())

        with statement_log() as log:
            result = data(
                await api.gql(DELIVERY_MESSAGES, {"id": message_id, "first": first}, token)
            )
        nodes = result["message"]["deliveries"]["nodes"]
        assert len(nodes) == first
        assert {n["message"]["id"] for n in nodes} == {message_id}
        assert log.tables() == ["staff", "messages", "deliveries", "messages", "categories"], (
            first,
            log.tables(),
        )


# Nested connections: a page per parent, for every parent at once --------------------------

HISTORY_ALIASES = 29
ISSUE_DOCUMENT = (
    "query($first: Int) { customers(first: $first) { edges { node { id "
    + " ".join(
        f"h{i}: permissionHistory(first: 100) {{ edges {{ node {{ id channel }} }} }}"
        for i in range(HISTORY_ALIASES)
    )
    + " } } } }"
)


@contextlib.asynccontextmanager
async def app_with(db: str, **overrides: str) -> AsyncIterator[Api]:
    """An app with its own settings (the issue's document is over the default cost limit)."""
    app = create_app(make_settings(db, **overrides), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client=client, app=app)


async def test_the_issues_document_costs_a_constant_number_of_statements(db, api):
    """Issue 10: customers(first: 100) × 29 aliases of permissionHistory(first: 100) took 2,900
    statements; the aliases share one loader key per customer, and all of them one query."""
    await populate()
    _, token = await api.staff(Role.ADMIN)
    async with app_with(db, TIDINGS_MAX_QUERY_COST="10000000") as roomy:
        for first in (5, 100):
            statements, tables, result = await count(roomy, ISSUE_DOCUMENT, first, token)
            nodes = [edge["node"] for edge in result["customers"]["edges"]]
            assert len(nodes) == first
            for node in nodes:
                for i in range(HISTORY_ALIASES):
                    # Newest first: the sms entry was recorded after the email one.
                    assert [e["node"]["channel"] for e in node[f"h{i}"]["edges"]] == [
                        "sms",
                        "email",
                    ]
            assert tables == ["staff", "customers", "permission_entries"], (first, statements)


HISTORY_PAGES = """
query { customers(first: 100) { edges { node { id
  one: permissionHistory(first: 1) { edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } }
  two: permissionHistory(first: 2) { edges { node { id } } pageInfo { hasNextPage } }
  none: permissionHistory(first: 0) { edges { node { id } } pageInfo { hasNextPage } }
} } } }
"""


async def populate_histories(count: int) -> dict[str, list[str]]:
    """Customer i has i % 4 ledger entries. Returns each one's entry ids, newest first, by
    the customer's global id."""
    customers = [
        Customer(id=new_id(), external_id=f"h-{i:03}", attributes={}) for i in range(count)
    ]
    await Customer.bulk_create(customers)
    entries = [
        PermissionEntry(
            id=new_id(),
            customer_id=customer.id,
            channel="email",
            category=f"c{n}",
            status=GrantStatus.GRANTED,
            source="api",
            recorded_by="api",
        )
        for i, customer in enumerate(customers)
        for n in range(i % 4)
    ]
    await PermissionEntry.bulk_create(entries)
    history: dict[str, list[str]] = {to_global_id("Customer", c.id): [] for c in customers}
    for entry in reversed(entries):
        history[to_global_id("Customer", entry.customer_id)].append(
            to_global_id("PermissionGrant", entry.id)
        )
    return history


def ids(connection: dict) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def test_batched_history_pages_are_each_customers_own(api):
    """One window query per distinct page arguments, and every customer gets its own page:
    the same ids and pageInfo as when it was asked for alone."""
    history = await populate_histories(12)
    _, token = await api.staff(Role.ADMIN)
    with statement_log() as log:
        result = data(await api.gql(HISTORY_PAGES, None, token))
    assert log.tables() == ["staff", "customers"] + ["permission_entries"] * 3
    for edge in result["customers"]["edges"]:
        node, expected = edge["node"], history[edge["node"]["id"]]
        assert ids(node["one"]) == expected[:1]
        assert node["one"]["pageInfo"]["hasNextPage"] is (len(expected) > 1)
        assert node["one"]["pageInfo"]["hasPreviousPage"] is False
        assert ids(node["two"]) == expected[:2]
        assert node["two"]["pageInfo"]["hasNextPage"] is (len(expected) > 2)
        assert ids(node["none"]) == []
        assert node["none"]["pageInfo"]["hasNextPage"] is (len(expected) > 0)


CONTINUED = """
query($a: ID!, $b: ID!, $afterA: String, $afterB: String) {
  a: customer(id: $a) { permissionHistory(first: 1, after: $afterA) { ...Page } }
  b: customer(id: $b) { permissionHistory(first: 1, after: $afterB) { ...Page } }
}
fragment Page on PermissionGrantConnection {
  edges { node { id } } pageInfo { hasNextPage hasPreviousPage endCursor }
}
"""


async def test_each_customer_continues_from_its_own_cursor(api):
    history = await populate_histories(4)
    a, b = [customer for customer, entries in history.items() if len(entries) >= 2][:2]
    _, token = await api.staff(Role.ADMIN)
    first = data(await api.gql(CONTINUED, {"a": a, "b": b}, token))
    for alias, customer in (("a", a), ("b", b)):
        assert ids(first[alias]["permissionHistory"]) == history[customer][:1]
    variables = {
        "a": a,
        "b": b,
        "afterA": first["a"]["permissionHistory"]["pageInfo"]["endCursor"],
        "afterB": first["b"]["permissionHistory"]["pageInfo"]["endCursor"],
    }
    second = data(await api.gql(CONTINUED, variables, token))
    for alias, customer in (("a", a), ("b", b)):
        page = second[alias]["permissionHistory"]
        assert ids(page) == history[customer][1:2]
        assert page["pageInfo"]["hasPreviousPage"] is True
        assert page["pageInfo"]["hasNextPage"] is (len(history[customer]) > 2)


async def test_a_bad_cursor_fails_only_its_own_field(api):
    history = await populate_histories(4)
    a, b = [customer for customer, entries in history.items() if entries][:2]
    _, token = await api.staff(Role.ADMIN)
    variables = {"a": a, "b": b, "afterA": "not-a-cursor"}
    result = await api.gql(CONTINUED, variables, token)
    (error,) = result["errors"]
    assert error["path"] == ["a", "permissionHistory"]
    assert error["extensions"]["reason"] == "INVALID_CURSOR"
    assert ids(result["data"]["b"]["permissionHistory"]) == history[b][:1]


MESSAGE_DELIVERIES = """
query($first: Int) { messages(first: $first) { nodes { id
  deliveries(first: 2) { nodes { id customer { id } } pageInfo { hasNextPage } }
} } }
"""


async def test_deliveries_of_a_page_of_messages_are_batched(api):
    """Message i has i % 4 deliveries: each message's page is its own, in one query."""
    customer_ids = await populate()
    await populate_messages(customer_ids)
    messages = await Message.all().order_by("id")
    expected: dict[str, list[str]] = {}
    deliveries = []
    for i, message in enumerate(messages[1:]):  # the first has a delivery to everyone
        rows = [
            Delivery(
                id=new_id(),
                message_id=message.id,
                customer_id=customer_ids[n],
                channel="email",
                status=DeliveryStatus.SENT,
            )
            for n in range(i % 4)
        ]
        deliveries += rows
        expected[to_global_id("Message", message.id)] = [
            to_global_id("Delivery", row.id) for row in rows
        ]
    await Delivery.bulk_create(deliveries)
    _, token = await api.staff(Role.ADMIN)
    for first in SIZES:
        with statement_log() as log:
            result = data(await api.gql(MESSAGE_DELIVERIES, {"first": first}, token))
        nodes = result["messages"]["nodes"]
        assert len(nodes) == first
        for node in nodes:
            page, mine = node["deliveries"], expected[node["id"]]
            assert [n["id"] for n in page["nodes"]] == mine[:2]
            assert page["pageInfo"]["hasNextPage"] is (len(mine) > 2)
        assert log.tables() == ["staff", "messages", "deliveries", "customers"], (
            first,
            log.tables(),
        )
