"""Who may subscribe to what, over a real socket, for every kind of caller; and the field
gates hold on a subscription's payload as they do on queries. The schema's Subscription
fields must all be listed here (the HTTP role tables cover Query and Mutation)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from tests.core.support import raw_id
from tests.delivery.support import send
from tests.live.conftest import LiveServer
from tests.live.test_subscriptions import customer_token, setup_customers
from tests.live.ws import LiveClient, connect
from tests.schema.schema_paths import graphql_schema
from tidings.core.enums import DeliveryStatus, Role
from tidings.core.models.messages import Delivery
from tidings.schema.ids import to_global_id

DOCUMENTS = {
    "notifications": "subscription { notifications { id title } }",
    "inboxUpdates": "subscription { inboxUpdates { unreadCount } }",
    "deliveryUpdates": """subscription($m: ID!) { deliveryUpdates(messageId: $m) {
        status lastError customer { id email } } }""",
}
OPEN = "open"  # subscribed: events will flow
CUSTOMERS_ONLY = {"notifications": OPEN, "inboxUpdates": OPEN, "deliveryUpdates": "FORBIDDEN"}
STAFF_WHO_SEE = {"notifications": "FORBIDDEN", "inboxUpdates": "FORBIDDEN", "deliveryUpdates": OPEN}
EXPECTED = {
    "admin": STAFF_WHO_SEE,
    "marketer": STAFF_WHO_SEE,
    "auditor": STAFF_WHO_SEE,
    "api_key": STAFF_WHO_SEE,
    # An agent sees the messages it sent; this one was sent by an admin.
    "agent": {**STAFF_WHO_SEE, "deliveryUpdates": "NOT_FOUND"},
    "customer": CUSTOMERS_ONLY,
}


def test_every_subscription_is_in_the_table():
    fields = set(graphql_schema().subscription_type.fields)
    assert fields == set(DOCUMENTS)
    assert all(set(row) == fields for row in EXPECTED.values())


async def outcome(client: LiveClient, op: str) -> str:
    """OPEN when nothing comes back at once, else the refusal's code."""
    try:
        frame = await client.frame(0.4)
    except TimeoutError:
        return OPEN
    assert frame["id"] == op, frame
    errors = frame["payload"] if frame["type"] == "error" else frame["payload"].get("errors")
    assert errors, frame
    return errors[0]["extensions"]["code"]


async def callers(live: LiveServer, admin_token: str, customer: dict) -> dict[str, str]:
    tokens = {"admin": admin_token, "customer": customer_token(live, customer)}
    for role in (Role.MARKETER, Role.AUDITOR, Role.AGENT):
        tokens[role.value.lower()] = (await live.api.staff(role))[1]
    _, secret = await live.api.runtime.services.api_keys.create(None, "backend", Role.ADMIN)
    tokens["api_key"] = secret
    return tokens


async def test_each_caller_may_subscribe_as_its_role_allows_and_sees_as_it_may(live):
    admin_token, (alice,) = await setup_customers(live, 1)
    due = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    message = await send(live.api, admin_token, "news", alice["id"], scheduleAt=due)
    variables = {"m": message["id"]}
    tokens = await callers(live, admin_token, alice)
    opened: dict[tuple[str, str], tuple[LiveClient, str]] = {}
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(connect(live.ws_url, token))
            for name, token in tokens.items()
        }
        for name, client in clients.items():
            for field, document in DOCUMENTS.items():
                op = await client.subscribe(document, variables if "$m" in document else None)
                got = await outcome(client, op)
                assert got == EXPECTED[name][field], (name, field, got)
                if got == OPEN:
                    opened[(name, field)] = (client, op)
        # The scheduled message falls due: every open deliveryUpdates sees it, gated per role.
        for name in ("admin", "marketer", "auditor", "api_key"):
            client, op = opened[(name, "deliveryUpdates")]
            payload = await client.next(op, timeout=10)
            update = payload["data"]["deliveryUpdates"]
            assert update["status"] == "DELIVERED"
            forbidden = {e["path"][-1] for e in payload.get("errors", [])}
            may_read_errors = name in ("admin", "api_key")
            assert ("lastError" in forbidden) is not may_read_errors, (name, payload)
            assert ("email" in forbidden) is not may_read_errors, (name, payload)
            assert update["customer"]["id"] == alice["id"]
        # And the customer's own stream has the notification.
        client, op = opened[("customer", "notifications")]
        assert (await client.next(op, timeout=10))["data"]["notifications"]["title"] == "Hello"


GRANT_ACCESS = """mutation($i: GrantAccessInput!) { grantAccess(input: $i) {
  accessGrant { id } errors { code } } }"""
REVOKE_ACCESS = "mutation($id: ID!) { revokeAccessGrant(id: $id) { errors { code } } }"


async def test_an_agents_stream_sees_with_the_grants_it_holds_at_each_event(live):
    admin_token, (alice,) = await setup_customers(live, 1)
    agent_id, agent = await live.api.staff(Role.AGENT)
    grant_ids = {}
    for actions in (["SEND"], ["READ"]):
        granted = await live.api.gql(
            GRANT_ACCESS,
            {
                "i": {
                    "staffId": to_global_id("Staff", agent_id),
                    "customerId": alice["id"],
                    "actions": actions,
                }
            },
            admin_token,
        )
        grant_ids[actions[0]] = granted["data"]["grantAccess"]["accessGrant"]["id"]
    due = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    message = await send(live.api, agent, "news", alice["id"], scheduleAt=due)
    async with connect(live.ws_url, agent) as client:
        op = await client.subscribe(DOCUMENTS["deliveryUpdates"], {"m": message["id"]})
        await live.subscribed(1)
        # READ withdrawn before the delivery happens (SEND kept, so the scheduled send still
        # goes out): the stream goes on, and no longer shows the customer's email.
        revoked = await live.api.gql(REVOKE_ACCESS, {"id": grant_ids["READ"]}, admin_token)
        assert revoked["data"]["revokeAccessGrant"]["errors"] == []
        payload = await client.next(op, timeout=10)
        assert payload["data"]["deliveryUpdates"]["status"] == "DELIVERED"
        assert payload["data"]["deliveryUpdates"]["customer"] == {"id": alice["id"], "email": None}
        assert {e["path"][-1] for e in payload["errors"]} == {"email", "lastError"}


RETRY = "mutation($id: ID!) { retryDelivery(id: $id) { delivery { status } errors { code } } }"


async def test_a_retried_delivery_shows_queued_again_then_its_outcome(live):
    admin_token, (alice,) = await setup_customers(live, 1)
    message = await send(live.api, admin_token, "news", alice["id"])
    (row,) = await Delivery.filter(message_id=raw_id(message["id"]))
    for _ in range(100):  # the in-process worker delivers it first
        await row.refresh_from_db()
        if row.status is DeliveryStatus.DELIVERED:
            break
        await asyncio.sleep(0.05)
    # As if the provider had given up on it.
    await Delivery.filter(id=row.id).update(
        status=DeliveryStatus.FAILED, reason="RETRIES_EXHAUSTED"
    )
    async with connect(live.ws_url, admin_token) as client:
        op = await client.subscribe(
            "subscription($m: ID!) { deliveryUpdates(messageId: $m) { id status reason } }",
            {"m": message["id"]},
        )
        await live.subscribed(1)
        retried = await live.api.gql(RETRY, {"id": to_global_id("Delivery", row.id)}, admin_token)
        assert retried["data"]["retryDelivery"]["errors"] == []
        first = (await client.next(op))["data"]["deliveryUpdates"]
        assert (first["status"], first["reason"]) == ("QUEUED", None)
        assert (await client.next(op))["data"]["deliveryUpdates"]["status"] == "DELIVERED"


UPDATE_STAFF = "mutation($i: UpdateStaffInput!) { updateStaff(input: $i) { errors { code } } }"


async def test_a_staff_member_deactivated_or_moved_to_another_role_loses_the_stream(live):
    admin_token, (alice,) = await setup_customers(live, 1)
    message = await send(live.api, admin_token, "news", alice["id"])
    for change in ({"active": False}, {"role": "AUDITOR"}):
        staff_id, token = await live.api.staff(Role.MARKETER)
        async with connect(live.ws_url, token) as client:
            await client.subscribe(DOCUMENTS["deliveryUpdates"], {"m": message["id"]})
            await live.subscribed(1)
            variables = {"i": {"id": to_global_id("Staff", staff_id), **change}}
            updated = await live.api.gql(UPDATE_STAFF, variables, admin_token)
            assert updated["data"]["updateStaff"]["errors"] == []
            assert (await client.closed()).code == 4403, change
        await live.unsubscribed()  # the next round counts its own subscription


REVOKE_KEY = "mutation($id: ID!) { revokeApiKey(id: $id) { errors { code } } }"


async def test_a_revoked_api_key_loses_its_stream(live):
    admin_token, (alice,) = await setup_customers(live, 1)
    message = await send(live.api, admin_token, "news", alice["id"])
    key, secret = await live.api.runtime.services.api_keys.create(None, "backend", Role.ADMIN)
    async with connect(live.ws_url, secret) as client:
        await client.subscribe(DOCUMENTS["deliveryUpdates"], {"m": message["id"]})
        await live.subscribed(1)
        revoked = await live.api.gql(
            REVOKE_KEY, {"id": to_global_id("ApiKey", key.id)}, admin_token
        )
        assert revoked["data"]["revokeApiKey"]["errors"] == []
        assert (await client.closed()).code == 4403
