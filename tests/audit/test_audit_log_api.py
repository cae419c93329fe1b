"""`auditLog`: ADMIN and AUDITOR only, newest first, filtered by actor, customer, action and
time, paged by cursor at a constant number of statements; reading it is recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api, data
from tests.core.support import create_customer, raw_id
from tests.sql_statements import statement_log
from tidings.core.audit import RequestInfo, record, request_scope
from tidings.core.enums import Role
from tidings.core.models import AuditEntry
from tidings.schema.ids import to_global_id

LOG = """
query($first: Int, $after: String, $filter: AuditLogFilter) {
  auditLog(first: $first, after: $after, filter: $filter) {
    edges { cursor node {
      id at action actorKind actorId customerId targets detail requestId ip hash prevHash
    } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""


def entries(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in data(result)["auditLog"]["edges"]]


async def world(api: Api) -> dict[str, Any]:
    """Entries by a staff member, an API key, a customer and the system, about two customers."""
    staff, token = await api.staff(Role.ADMIN)
    key = uuid.uuid4()
    alice = raw_id((await create_customer(api, token))["id"])
    bob = raw_id((await create_customer(api, token))["id"])
    await AuditEntry.all().delete()  # whatever creating them recorded: start afresh
    with request_scope(RequestInfo("req-1", "10.0.0.9", f"staff:{staff}")):
        await record("customer.read", customer_id=alice, detail={"fields": ["email"]})
        await record("consent.grant", customer_id=bob, targets={"grant": "g-1"})
    await record("send", actor=f"api_key:{key}", detail={"size": 2})
    await record("consent.withdraw", actor=f"customer:{alice}", customer_id=alice)
    await record("worker.start")
    return {"staff": staff, "key": key, "alice": alice, "bob": bob}


async def test_admin_and_auditor_read_every_column_newest_first(api: Api) -> None:
    w = await world(api)
    _, auditor = await api.staff(Role.AUDITOR)
    rows = await AuditEntry.all().order_by("-id")
    got = entries(await api.gql(LOG, token=auditor))
    assert [g["id"] for g in got] == [str(r.id) for r in rows]
    read = got[-1]
    assert read == {
        "id": "1",
        "at": rows[-1].at.isoformat(),
        "action": "customer.read",
        "actorKind": "staff",
        "actorId": to_global_id("Staff", w["staff"]),
        "customerId": to_global_id("Customer", w["alice"]),
        "targets": {},
        "detail": {"fields": ["email"]},
        "requestId": "req-1",
        "ip": "10.0.0.9",
        "hash": rows[-1].hash,
        "prevHash": "0" * 64,
    }
    by_id = {g["id"]: g for g in got}
    assert by_id["3"]["actorId"] == to_global_id("ApiKey", w["key"])
    assert by_id["4"]["actorId"] == to_global_id("Customer", w["alice"])
    assert (by_id["5"]["actorKind"], by_id["5"]["actorId"]) == ("system", None)
    assert by_id["2"]["prevHash"] == by_id["1"]["hash"]
    _, admin = await api.staff(Role.ADMIN)
    assert [g["id"] for g in entries(await api.gql(LOG, token=admin))][1:] == [
        g["id"] for g in got
    ]  # the auditor's own read is on the log now, newest


@pytest.mark.parametrize("role", [Role.MARKETER, Role.AGENT])
async def test_other_staff_roles_are_forbidden(api: Api, role: Role) -> None:
    await world(api)
    _, token = await api.staff(role)
    result = await api.gql(LOG, token=token)
    assert result["data"] == {"auditLog": None}
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    assert result["errors"][0]["path"] == ["auditLog"]
    assert not await AuditEntry.filter(action="audit.read").exists()


async def test_customers_and_api_keys_by_role(api: Api) -> None:
    w = await world(api)
    result = await api.gql(LOG, token=api.customer_token(w["alice"]))
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    services = api.runtime.services
    _, marketer_key = await services.api_keys.create(None, "marketing", Role.MARKETER)
    result = await api.gql(LOG, token=marketer_key)
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    key, auditor_key = await services.api_keys.create(None, "siem", Role.AUDITOR)
    # The world's five, and the two keys' creation.
    assert len(entries(await api.gql(LOG, token=auditor_key))) == 7
    read = await AuditEntry.get(action="audit.read")
    assert (read.actor_kind, read.actor_id) == ("api_key", key.id)
    result = await api.gql(LOG)
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_filters(api: Api) -> None:
    w = await world(api)
    _, token = await api.staff(Role.AUDITOR)

    async def ids(**where: Any) -> list[str]:
        return [g["id"] for g in entries(await api.gql(LOG, {"filter": where}, token))]

    assert await ids(actorId=to_global_id("Staff", w["staff"])) == ["2", "1"]
    assert await ids(actorId=to_global_id("ApiKey", w["key"])) == ["3"]
    assert await ids(actorId=to_global_id("Customer", w["alice"])) == ["4"]
    # The same uuid under another kind is another actor.
    assert await ids(actorId=to_global_id("ApiKey", w["staff"])) == []
    assert await ids(customerId=to_global_id("Customer", w["alice"])) == ["4", "1"]
    assert await ids(action="consent.grant") == ["2"]
    assert await ids(action="customer.read", customerId=to_global_id("Customer", w["bob"])) == []
    rows = {r.id: r.at for r in await AuditEntry.filter(id__lte=5)}
    window = await ids(**{"from": rows[2].isoformat(), "to": rows[4].isoformat()})
    assert window == ["3", "2"]  # from inclusive, to exclusive
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert await ids(**{"from": later}) == []


async def test_every_read_is_recorded_with_its_filter(api: Api) -> None:
    w = await world(api)
    auditor, token = await api.staff(Role.AUDITOR)
    customer = to_global_id("Customer", w["alice"])
    await api.gql(LOG, {"first": 2, "filter": {"customerId": customer, "action": "x.y"}}, token)
    read = await AuditEntry.get(action="audit.read")
    assert (read.actor_kind, read.actor_id, read.customer_id) == ("staff", auditor, None)
    assert read.detail == {
        "filter": {"customer_id": str(w["alice"]), "action": "x.y"},
        "first": 2,
    }


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ({"actorId": "not-an-id"}, "filter.actorId"),
        ({"actorId": to_global_id("Message", uuid.uuid4())}, "filter.actorId"),
        ({"actorId": str(uuid.uuid4())}, "filter.actorId"),  # a raw uuid names no kind
        ({"customerId": to_global_id("Staff", uuid.uuid4())}, "filter.customerId"),
        ({"customerId": "bm9wZQ=="}, "filter.customerId"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "filter.from"),
    ],
)
async def test_bad_filters_are_clear_errors(api: Api, where: dict, field: str) -> None:
    _, token = await api.staff(Role.ADMIN)
    result = await api.gql(LOG, {"filter": where}, token)
    assert result["data"] is None or result["data"]["auditLog"] is None
    error = result["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"].get("field") == field, error


async def test_pages_follow_cursors(api: Api) -> None:
    for n in range(7):
        await record(f"a.{n}")
    _, token = await api.staff(Role.ADMIN)
    seen: list[str] = []
    after = None
    while True:
        conn = data(await api.gql(LOG, {"first": 3, "after": after}, token))["auditLog"]
        seen += [e["node"]["id"] for e in conn["edges"]]
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    # Each page's own audit.read is newer than its cursor: never in a later page.
    assert seen == [str(n) for n in range(7, 0, -1)]
    bad = await api.gql(LOG, {"after": "nope"}, token)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    too_many = await api.gql(LOG, {"first": 101}, token)
    assert too_many["data"] is None
    assert too_many["errors"][0]["extensions"]["code"] == "QUERY_LIMIT"


async def test_a_page_costs_the_same_statements_whatever_its_size(api: Api) -> None:
    for n in range(60):
        await record(f"a.{n}", customer_id=uuid.uuid4())
    _, token = await api.staff(Role.AUDITOR)
    counts = []
    for size in (5, 50):
        with statement_log() as log:
            assert len(entries(await api.gql(LOG, {"first": size}, token))) == size
        counts.append(len(log.statements))
    assert counts[0] == counts[1], counts
    # The page itself is one SELECT on audit_entries; the rest is the caller and the record.
    assert counts[0] <= 6, log.statements
