"""send, end to end on each database: decided deliveries, the worker, the in-app inbox."""

from __future__ import annotations

from tests.conftest import data
from tidings.core.enums import Role
from tidings.core.models import Notification

CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { code } } }
"""
CREATE_CATEGORY = """
mutation($input: CreateCategoryInput!) { createCategory(input: $input) { category { key } errors { code } } }
"""
GRANT = """
mutation($input: GrantPermissionInput!) { grantPermission(input: $input) { grant { status } errors { code } } }
"""
WITHDRAW = """
mutation($input: WithdrawPermissionInput!) { withdrawPermission(input: $input) { grant { status } errors { code } } }
"""
SEND = """
mutation($input: SendInput!) {
  send(input: $input) {
    message { id status deliveryCounts { status count }
              deliveries { edges { node { channel status reason attempts } } } }
    errors { code field message }
  }
}
"""
MESSAGE = """
query($id: ID!) { message(id: $id) { status deliveries { edges { node { channel status reason provider } } } } }
"""


async def setup_customer(api, token, kind="MARKETING"):
    customer = data(
        await api.gql(
            CREATE_CUSTOMER,
            {"input": {"externalId": "c-1", "email": "c1@example.com", "tier": "HIGH_VALUE"}},
            token,
        )
    )
    customer_id = customer["createCustomer"]["customer"]["id"]
    data(
        await api.gql(
            CREATE_CATEGORY,
            {
                "input": {
                    "key": "promos",
                    "name": "Promos",
                    "kind": kind,
                    "defaultChannels": ["in_app"],
                }
            },
            token,
        )
    )
    return customer_id


def send_input(customer_id, key="k1", **extra):
    return {
        "input": {
            "idempotencyKey": key,
            "category": "promos",
            "to": {"customerId": customer_id},
            "content": {"title": "Hello", "body": "World"},
            **extra,
        }
    }


async def test_marketing_send_needs_permission_then_delivers_to_inbox(api):
    _, token = await api.staff(Role.ADMIN)
    customer_id = await setup_customer(api, token)

    first = data(await api.gql(SEND, send_input(customer_id, "k1"), token))["send"]
    assert first["errors"] == []
    edges = first["message"]["deliveries"]["edges"]
    assert [e["node"]["status"] for e in edges] == ["SUPPRESSED"]
    assert edges[0]["node"]["reason"] == "NO_PERMISSION"

    data(
        await api.gql(
            GRANT,
            {
                "input": {
                    "customerId": customer_id,
                    "channel": "in_app",
                    "category": "promos",
                    "source": "api",
                }
            },
            token,
        )
    )
    second = data(await api.gql(SEND, send_input(customer_id, "k2"), token))["send"]
    assert [e["node"]["status"] for e in second["message"]["deliveries"]["edges"]] == ["QUEUED"]

    assert await api.runtime.worker.run_once() == 1
    after = data(await api.gql(MESSAGE, {"id": second["message"]["id"]}, token))["message"]
    node = after["deliveries"]["edges"][0]["node"]
    assert (node["status"], node["provider"]) == ("DELIVERED", "inbox")
    notes = await Notification.all()
    assert [(n.title, n.body) for n in notes] == [("Hello", "World")]


async def test_same_idempotency_key_returns_first_message_and_conflicts_on_other_input(api):
    _, token = await api.staff(Role.ADMIN)
    customer_id = await setup_customer(api, token, kind="TRANSACTIONAL")
    one = data(await api.gql(SEND, send_input(customer_id, "same"), token))["send"]
    two = data(await api.gql(SEND, send_input(customer_id, "same"), token))["send"]
    assert one["message"]["id"] == two["message"]["id"]
    other = send_input(customer_id, "same")
    other["input"]["content"]["body"] = "changed"
    three = data(await api.gql(SEND, other, token))["send"]
    assert three["message"] is None
    assert [e["code"] for e in three["errors"]] == ["IDEMPOTENCY_CONFLICT"]
