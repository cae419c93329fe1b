"""Messages and deliveries, caller by caller: AUDITOR sees them without content, agents see
only the messages they sent, customers none; a delivery's recipient follows the caller's
usual customer visibility and PII rules, and its provider error is for ADMIN only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.schema.authz_world import REFUSED_ERROR_PART, TARGET_EMAIL, World, build_world
from tidings.core.models import Customer
from tidings.core.models.messages import Message
from tidings.schema.ids import to_global_id

MESSAGE = """query($id: ID!) { message(id: $id) {
  id category { key } title body deliveryCounts { status count }
  deliveries { nodes { id status reason lastError message { id } customer { id email phone } } }
} }"""
MESSAGES = "{ messages { nodes { id title body } } }"
FAILED = "{ failedDeliveries { nodes { reason lastError customer { id email } } } }"


async def ask(api, world: World, caller: str, query: str, message: str | None = None) -> Any:
    variables = {"id": to_global_id("Message", world.messages[message])} if message else None
    return await api.gql(query, variables, await world.callers[caller].token(api))


def error_paths(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    for error in result.get("errors") or []:
        assert error["extensions"]["code"] == "FORBIDDEN", result
    return sorted(tuple(str(p) for p in e["path"]) for e in result.get("errors") or [])


@pytest.mark.parametrize("caller", ["AUDITOR", "KEY_AUDITOR"])
async def test_auditor_sees_messages_without_content(api, caller):
    world = await build_world(api)
    row = await Message.get(id=world.messages["broadcast"])
    result = await ask(api, world, caller, MESSAGE, "broadcast")
    message = result["data"]["message"]
    assert message["id"] == to_global_id("Message", row.id)
    assert message["category"] == {"key": row.category}
    assert (message["title"], message["body"]) == (None, None)
    assert {"status": "FAILED", "count": 1} in message["deliveryCounts"]
    forbidden = error_paths(result)
    assert ("message", "title") in forbidden and ("message", "body") in forbidden
    assert row.title not in str(result) and row.body not in str(result)

    listed = await ask(api, world, caller, MESSAGES)
    nodes = listed["data"]["messages"]["nodes"]
    assert len(nodes) == len(world.messages)
    assert all((n["title"], n["body"]) == (None, None) for n in nodes)
    assert len(error_paths(listed)) == 2 * len(nodes)


@pytest.mark.parametrize("caller", ["ADMIN", "MARKETER", "KEY_ADMIN", "KEY_MARKETER"])
async def test_admins_and_marketers_read_content(api, caller):
    world = await build_world(api)
    result = await ask(api, world, caller, MESSAGES)
    titles = {n["title"]: n["body"] for n in result["data"]["messages"]["nodes"]}
    rows = await Message.all()
    assert titles == {row.title: row.body for row in rows}
    forbidden = error_paths(result)
    assert not forbidden


async def test_an_agent_sees_only_the_messages_it_sent(api):
    world = await build_world(api)
    for caller, own in [("AGENT_READ", "AGENT_READ"), ("AGENT_REVOKED", "AGENT_REVOKED")]:
        result = await ask(api, world, caller, MESSAGES)
        assert "errors" not in result, result
        row = await Message.get(id=world.messages[own])
        assert result["data"]["messages"]["nodes"] == [
            {"id": to_global_id("Message", row.id), "title": row.title, "body": row.body}
        ]
        unseen = await ask(api, world, caller, MESSAGE, "broadcast")
        assert unseen == {"data": {"message": None}}
    for caller in ("AGENT_NO_GRANT", "AGENT_NO_READ", "AGENT_EXPIRED", "KEY_AGENT"):
        result = await ask(api, world, caller, MESSAGES)
        assert result == {"data": {"messages": {"nodes": []}}}, caller
        assert await ask(api, world, caller, MESSAGE, "AGENT_READ") == {"data": {"message": None}}


@pytest.mark.parametrize("caller", ["CUSTOMER_SELF", "CUSTOMER_OTHER"])
@pytest.mark.parametrize("query", [MESSAGE, MESSAGES, FAILED])
async def test_customers_get_forbidden_on_message_queries(api, caller, query):
    world = await build_world(api)
    result = await ask(api, world, caller, query, "broadcast" if query is MESSAGE else None)
    assert not any((result["data"] or {}).values()), result  # the operation is refused whole
    [error] = result["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert len(error["path"]) == 1


async def test_a_deliverys_recipient_follows_the_callers_customer_rules(api):
    world = await build_world(api)
    target = await Customer.get(id=world.target)
    target_id = to_global_id("Customer", target.id)

    def recipients(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
        nodes = result["data"]["message"]["deliveries"]["nodes"]
        return {n["customer"]["id"]: n for n in nodes if n["customer"]}

    # ADMIN reads everything, the provider's error too (scrubbed of the address it quoted).
    admin = await ask(api, world, "ADMIN", MESSAGE, "broadcast")
    assert not error_paths(admin)
    message_id = to_global_id("Message", world.messages["broadcast"])
    nodes = admin["data"]["message"]["deliveries"]["nodes"]
    assert {n["message"]["id"] for n in nodes} == {message_id}  # each links back to it
    failed = recipients(admin)[target_id]
    assert (failed["status"], failed["reason"]) == ("FAILED", "INVALID_ADDRESS")
    assert REFUSED_ERROR_PART in failed["lastError"]
    assert TARGET_EMAIL not in failed["lastError"]
    assert (failed["customer"]["email"], failed["customer"]["phone"]) == (
        target.email,
        target.phone,
    )

    # MARKETER sees both recipients, without their personal data or the provider's error.
    marketer = await ask(api, world, "MARKETER", MESSAGE, "broadcast")
    seen = recipients(marketer)
    assert len(seen) == 2
    for node in seen.values():
        assert (node["lastError"], node["customer"]["email"], node["customer"]["phone"]) == (
            None,
            None,
            None,
        )
    forbidden = error_paths(marketer)
    assert len(forbidden) == 2 * 3  # lastError, email, phone of each delivery
    assert {p[-1] for p in forbidden} == {"lastError", "email", "phone"}

    # The agent holding READ on the target reads it on its own message's delivery.
    agent = await ask(api, world, "AGENT_READ", MESSAGE, "AGENT_READ")
    [node] = agent["data"]["message"]["deliveries"]["nodes"]
    assert node["customer"] == {"id": target_id, "email": target.email, "phone": target.phone}
    assert error_paths(agent) == [
        ("message", "deliveries", "nodes", "0", "lastError"),
    ]

    # The agent whose grant was revoked still sees its message, but no longer the customer.
    revoked = await ask(api, world, "AGENT_REVOKED", MESSAGE, "AGENT_REVOKED")
    [node] = revoked["data"]["message"]["deliveries"]["nodes"]
    assert node["customer"] is None
    assert error_paths(revoked) == [("message", "deliveries", "nodes", "0", "lastError")]


@pytest.mark.parametrize("caller", ["AUDITOR", "KEY_AUDITOR"])
async def test_auditor_lists_failed_deliveries_without_errors_or_pii(api, caller):
    world = await build_world(api)
    result = await ask(api, world, caller, FAILED)
    nodes = result["data"]["failedDeliveries"]["nodes"]
    assert sorted(n["reason"] for n in nodes) == ["INVALID_ADDRESS", "NO_PROVIDER", "NO_PROVIDER"]
    target_id = to_global_id("Customer", world.target)
    assert all(n["customer"] == {"id": target_id, "email": None} for n in nodes)
    assert all(n["lastError"] is None for n in nodes)
    assert len(error_paths(result)) == 2 * len(nodes)
    assert REFUSED_ERROR_PART not in str(result) and TARGET_EMAIL not in str(result)
