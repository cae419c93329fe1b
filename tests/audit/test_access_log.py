"""`Customer.accessLog`: who read the customer's personal data. ADMIN and the customer itself
read it; other staff get null with FORBIDDEN; another customer does not find the customer at
all. A page of customers with their access logs costs the same statements at any size."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Api, data
from tests.sql_statements import statement_log
from tidings.core.audit import RequestInfo, record, request_scope
from tidings.core.enums import Role
from tidings.core.models import AuditEntry, Customer
from tidings.schema.ids import to_global_id

ACCESS = """
query($id: ID!, $first: Int, $after: String) {
  customer(id: $id) {
    id
    accessLog(first: $first, after: $after) {
      edges { cursor node { at actorKind actorId fields operation } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


async def seeded(api: Api) -> dict[str, Any]:
    """Two customers; reads of the first by a staff member, an API key and itself, a read of
    the second, and other actions about the first that are not reads."""
    admin, token = await api.staff(Role.ADMIN)
    # Made directly: createCustomer's answer would itself be a read of the new customer.
    alice = (await Customer.create(external_id="alice")).id
    bob = (await Customer.create(external_id="bob")).id
    agent, key = uuid.uuid4(), uuid.uuid4()
    with request_scope(RequestInfo("r-1", "10.1.1.1", f"staff:{agent}")):
        await record(
            "customer.read",
            customer_id=alice,
            detail={"fields": ["email", "phone"], "operation": "GetCustomer"},
        )
        await record("customer.update", customer_id=alice, detail={"fields": ["name"]})
    await record(
        "customer.read", actor=f"api_key:{key}", customer_id=alice, detail={"fields": ["devices"]}
    )
    await record("customer.read", actor=f"staff:{agent}", customer_id=bob, detail={"fields": []})
    await record(
        "customer.read",
        actor=f"customer:{alice}",
        customer_id=alice,
        detail={"fields": ["email"], "operation": "Me"},
    )
    await record("consent.grant", actor=f"customer:{alice}", customer_id=alice)
    return {"admin": admin, "token": token, "alice": alice, "bob": bob, "agent": agent, "key": key}


def log_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in data(result)["customer"]["accessLog"]["edges"]]


async def test_admin_reads_who_read_the_customer(api: Api) -> None:
    w = await seeded(api)
    result = await api.gql(ACCESS, {"id": to_global_id("Customer", w["alice"])}, w["token"])
    got = log_of(result)
    reads = await AuditEntry.filter(action="customer.read", customer_id=w["alice"]).order_by("-id")
    assert [g["at"] for g in got] == [r.at.isoformat() for r in reads]
    assert [(g["actorKind"], g["actorId"], g["fields"], g["operation"]) for g in got] == [
        ("customer", to_global_id("Customer", w["alice"]), ["email"], "Me"),
        ("api_key", to_global_id("ApiKey", w["key"]), ["devices"], None),
        ("staff", to_global_id("Staff", w["agent"]), ["email", "phone"], "GetCustomer"),
    ]


async def test_the_customer_reads_its_own(api: Api) -> None:
    w = await seeded(api)
    alice = to_global_id("Customer", w["alice"])
    got = log_of(await api.gql(ACCESS, {"id": alice}, api.customer_token(w["alice"])))
    assert [g["actorKind"] for g in got] == ["customer", "api_key", "staff"]


async def test_other_staff_are_forbidden_at_the_field(api: Api) -> None:
    w = await seeded(api)
    alice = to_global_id("Customer", w["alice"])
    for role in (Role.MARKETER, Role.AUDITOR):
        _, token = await api.staff(role)
        result = await api.gql(ACCESS, {"id": alice}, token)
        assert result["data"]["customer"] == {"id": alice, "accessLog": None}, role
        assert [(e["extensions"]["code"], e["path"]) for e in result["errors"]] == [
            ("FORBIDDEN", ["customer", "accessLog"])
        ], role
    _, marketer_key = await api.runtime.services.api_keys.create(None, "m", Role.MARKETER)
    result = await api.gql(ACCESS, {"id": alice}, marketer_key)
    assert result["data"]["customer"]["accessLog"] is None
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_another_customer_does_not_find_it(api: Api) -> None:
    w = await seeded(api)
    alice = to_global_id("Customer", w["alice"])
    result = await api.gql(ACCESS, {"id": alice}, api.customer_token(w["bob"]))
    assert result == {"data": {"customer": None}}


async def test_pages_and_a_bad_cursor(api: Api) -> None:
    w = await seeded(api)
    alice = to_global_id("Customer", w["alice"])
    first = data(await api.gql(ACCESS, {"id": alice, "first": 2}, w["token"]))["customer"]
    assert [e["node"]["actorKind"] for e in first["accessLog"]["edges"]] == [
        "customer",
        "api_key",
    ]
    assert first["accessLog"]["pageInfo"]["hasNextPage"] is True
    after = first["accessLog"]["pageInfo"]["endCursor"]
    rest = log_of(await api.gql(ACCESS, {"id": alice, "first": 2, "after": after}, w["token"]))
    assert [g["actorKind"] for g in rest] == ["staff"]
    bad = await api.gql(ACCESS, {"id": alice, "after": "zzz"}, w["token"])
    assert bad["data"]["customer"]["accessLog"] is None
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_customer_nobody_read_has_an_empty_log(api: Api) -> None:
    _, token = await api.staff(Role.ADMIN)
    customer = to_global_id("Customer", (await Customer.create(external_id="quiet")).id)
    result = data(await api.gql(ACCESS, {"id": customer}, token))["customer"]["accessLog"]
    assert result == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


MANY = """
query($first: Int) {
  customers(first: $first) {
    nodes { id accessLog(first: 5) { nodes { actorKind fields } } }
  }
}
"""


async def test_a_page_of_customers_with_their_logs_costs_the_same_statements(api: Api) -> None:
    _, token = await api.staff(Role.ADMIN)
    for n in range(12):
        customer = (await Customer.create(external_id=f"c{n}")).id
        for _ in range(3):
            await record("customer.read", customer_id=customer, detail={"fields": ["email"]})
    counts = []
    for size in (2, 12):
        with statement_log() as log:
            nodes = data(await api.gql(MANY, {"first": size}, token))["customers"]["nodes"]
        assert len(nodes) == size
        assert all(len(n["accessLog"]["nodes"]) == 3 for n in nodes)
        audit = [s for s in log.statements if "audit_entries" in s]
        counts.append((len(log.statements), len(audit)))
    assert counts[0] == counts[1], counts
    assert counts[0][1] == 1  # every customer's page in one statement
