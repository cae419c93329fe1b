"""Personal data reads: one `customer.read` entry per operation and customer."""

from __future__ import annotations

import uuid

from tests.audit.support import actor, assert_no_pii, entries, request_id
from tests.conftest import Api, data
from tests.core.support import admin, create_customer, raw_id
from tests.sql_statements import statement_log
from tidings.core.enums import Role

PAGE = """
query Page { customers(first: 100) { edges { node { id email phone name } } } }
"""
TWO_ALIASES = """
query Twice($id: ID!) {
  a: customer(id: $id) { email }
  b: customer(id: $id) { phone email }
}
"""


async def post(api: Api, query: str, token: str, variables: dict | None = None, **headers: str):
    response = await api.client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}", **headers},
    )
    assert response.status_code == 200, response.text
    return response


async def test_two_aliases_give_one_entry_with_both_fields(api: Api) -> None:
    staff_id, token = await admin(api)
    customer = await create_customer(
        api, token, email="ann@example.com", phone="+14155550100", name="Ann Lee"
    )
    before = len(await entries("customer.read"))
    response = await post(api, TWO_ALIASES, token, {"id": customer["id"]})
    data(response.json())
    reads = (await entries("customer.read"))[before:]
    assert len(reads) == 1
    entry = reads[0]
    assert entry.customer_id == raw_id(customer["id"])
    assert entry.detail == {"fields": ["email", "phone"], "operation": "Twice"}
    assert actor(entry) == f"staff:{staff_id}"
    assert entry.request_id == request_id(response)
    assert entry.ip == "127.0.0.1"
    await assert_no_pii("ann@example.com", "+14155550100", "Ann Lee")


async def test_anonymous_operation_is_named_by_its_type(api: Api) -> None:
    _, token = await admin(api)
    customer = await create_customer(api, token, email="bo@example.com")
    before = len(await entries("customer.read"))
    await post(
        api, "query($id: ID!) { customer(id: $id) { email } }", token, {"id": customer["id"]}
    )
    (entry,) = (await entries("customer.read"))[before:]
    assert entry.detail == {"fields": ["email"], "operation": "query"}


async def test_a_page_of_100_is_recorded_in_one_insert(api: Api) -> None:
    _, token = await admin(api)
    for n in range(100):
        await create_customer(api, token, externalId=f"p-{n:03}", email=f"p{n}@example.com")
    before = len(await entries())
    with statement_log() as log:
        response = await post(api, PAGE, token)
    edges = data(response.json())["customers"]["edges"]
    assert len(edges) == 100
    inserts = [s for s in log.statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1 and "audit_entries" in inserts[0]
    reads = (await entries())[before:]
    assert len(reads) == 100
    assert {e.action for e in reads} == {"customer.read"}
    assert {e.customer_id for e in reads} == {raw_id(edge["node"]["id"]) for edge in edges}
    assert {tuple(e.detail["fields"]) for e in reads} == {("email", "phone")}
    assert {e.request_id for e in reads} == {request_id(response)}


async def test_a_marketer_reads_no_pii_and_records_no_read(api: Api) -> None:
    _, token = await admin(api)
    await create_customer(api, token, email="mk@example.com")
    _, marketer = await api.staff(Role.MARKETER)
    before = len(await entries("customer.read"))
    response = await post(
        api, "{ customers(first: 100) { edges { node { id name emailMasked } } } }", marketer
    )
    assert data(response.json())["customers"]["edges"]
    assert len(await entries("customer.read")) == before


async def test_a_forbidden_field_is_not_a_read(api: Api) -> None:
    _, token = await admin(api)
    await create_customer(api, token, email="fb@example.com")
    _, marketer = await api.staff(Role.MARKETER)
    before = len(await entries("customer.read"))
    response = await post(api, PAGE, marketer)
    body = response.json()
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert len(await entries("customer.read")) == before


async def test_a_customer_reading_itself_is_the_actor(api: Api) -> None:
    _, token = await admin(api)
    customer = await create_customer(api, token, email="me@example.com")
    customer_id = raw_id(customer["id"])
    before = len(await entries("customer.read"))
    await post(
        api, "query Me { me { ... on Customer { email } } }", api.customer_token(customer_id)
    )
    (entry,) = (await entries("customer.read"))[before:]
    assert actor(entry) == f"customer:{customer_id}"
    assert entry.customer_id == customer_id
    assert entry.detail == {"fields": ["email"], "operation": "Me"}


async def test_an_agent_with_a_read_grant_is_recorded(api: Api) -> None:
    _, token = await admin(api)
    customer = await create_customer(api, token, email="ag@example.com")
    agent_id, agent = await api.staff(Role.AGENT)
    grant = await api.gql(
        """mutation($input: GrantAccessInput!) { grantAccess(input: $input) { errors { code } } }""",
        {
            "input": {
                "staffId": _gid("Staff", agent_id),
                "customerId": customer["id"],
                "actions": ["READ"],
            }
        },
        token,
    )
    assert data(grant)["grantAccess"]["errors"] == []
    before = len(await entries("customer.read"))
    await post(
        api, "query($id: ID!) { customer(id: $id) { phone } }", agent, {"id": customer["id"]}
    )
    (entry,) = (await entries("customer.read"))[before:]
    assert actor(entry) == f"staff:{agent_id}"
    assert entry.detail["fields"] == ["phone"]


def _gid(kind: str, value: uuid.UUID) -> str:
    from tidings.schema.ids import to_global_id

    return to_global_id(kind, value)


DELIVERY_ERRORS = """
query Errors($id: ID!) { message(id: $id) { deliveries(first: 10) { nodes { lastError } } } }
"""


async def test_a_delivery_error_that_may_quote_an_address_is_a_read(api: Api) -> None:
    from tests.core.support import create_category
    from tests.delivery.support import SEND, rows
    from tidings.core.models.messages import Delivery

    staff_id, token = await admin(api)
    await create_category(api, token, "orders", kind="TRANSACTIONAL", defaultChannels=["in_app"])
    quoted, silent = [await create_customer(api, token) for _ in range(2)]
    sent = await api.gql(
        SEND,
        {"i": {"idempotencyKey": "errs", "category": "orders",
               "to": {"customerIds": [quoted["id"], silent["id"]]},
               "content": {"title": "t", "body": "b"}}},
        token,
    )  # fmt: skip
    message = data(sent)["send"]["message"]
    deliveries = await rows(message)
    failed = next(d for d in deliveries if d.customer_id == raw_id(quoted["id"]))
    await Delivery.filter(id=failed.id).update(last_error="550 q@example.com unknown")
    before = len(await entries("customer.read"))
    response = await post(api, DELIVERY_ERRORS, token, {"id": message["id"]})
    errors = [n["lastError"] for n in data(response.json())["message"]["deliveries"]["nodes"]]
    assert sorted(errors, key=str) == ["550 q@example.com unknown", None]
    (entry,) = (await entries("customer.read"))[before:]
    assert entry.customer_id == raw_id(quoted["id"]) and actor(entry) == f"staff:{staff_id}"
    assert entry.detail == {"fields": ["lastError"], "operation": "Errors"}
    await assert_no_pii("q@example.com")
