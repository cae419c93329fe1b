"""No N+1: a page of customers with their grants, preferences, evidence and devices costs the
same number of SQL statements whatever the page size.

Statements are counted from tortoise's own debug log (see tests/sql_statements.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.conftest import data
from tests.sql_statements import statement_log
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


def assert_constant(found: dict[int, tuple[int, list[str]]], expected: list[str]) -> None:
    for first, (statements, tables) in found.items():
        assert tables == expected, f"first={first}: {statements} statements on {tables}"


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
