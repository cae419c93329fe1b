"""Live notifications over a real websocket: each customer gets its own and nothing else,
and the caller is checked again for every event."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import SECRET, data
from tests.core.support import admin, create_category, create_customer, raw_id
from tests.delivery.support import grant, send
from tests.live.conftest import LiveServer
from tests.live.ws import Closed, connect
from tidings.core.enums import Role
from tidings.core.models import Customer
from tidings.core.tokens import TokenKind, TokenSigner

NOTIFICATIONS = "subscription { notifications { id category title body data createdAt readAt } }"
INBOX_UPDATES = "subscription { inboxUpdates { unreadCount readIds archivedIds } }"


async def setup_customers(live: LiveServer, count: int = 2):
    """An admin token, an in_app category, and `count` customers who granted it."""
    _, token = await admin(live.api)
    await create_category(live.api, token, "news", kind="TRANSACTIONAL", defaultChannels=["in_app"])
    customers = []
    for _ in range(count):
        customer = await create_customer(live.api, token)
        await grant(live.api, token, customer["id"], "news", "in_app")
        customers.append(customer)
    return token, customers


def customer_token(live: LiveServer, customer: dict) -> str:
    return live.api.customer_token(raw_id(customer["id"]))


async def test_each_customer_receives_its_own_notification_and_nothing_else(live):
    token, (alice, bob) = await setup_customers(live)
    async with (
        connect(live.ws_url, customer_token(live, alice)) as a,
        connect(live.ws_url, customer_token(live, bob)) as b,
    ):
        op_a = await a.subscribe(NOTIFICATIONS)
        op_b = await b.subscribe(NOTIFICATIONS)
        await send(live.api, token, "news", alice["id"], title="For Alice", body="Only you")
        payload = await a.next(op_a)
        note = payload["data"]["notifications"]
        assert (note["title"], note["body"], note["category"]) == ("For Alice", "Only you", "news")
        assert note["readAt"] is None
        await b.nothing(1.0)

        # The same notification, as the inbox lists it.
        inbox = data(
            await live.api.gql(
                "{ inbox(first: 5) { edges { node { id title } } } }",
                token=customer_token(live, alice),
            )
        )["inbox"]["edges"]
        assert [e["node"]["id"] for e in inbox] == [note["id"]]

        await send(live.api, token, "news", bob["id"], title="For Bob")
        assert (await b.next(op_b))["data"]["notifications"]["title"] == "For Bob"
        await a.nothing(0.5)


async def test_a_socket_without_a_valid_token_is_refused_with_4403(live):
    for token in (None, "not-a-token"):
        async with connect(live.ws_url, init=False) as client:
            payload = {"authorization": f"Bearer {token}"} if token else {}
            await client.socket.send(
                '{"type":"connection_init","payload":' + json.dumps(payload) + "}"
            )
            closed = await client.closed()
            assert closed.code == 4403


async def test_subscribing_before_connection_init_is_refused(live):
    async with connect(live.ws_url, init=False) as client:
        await client.subscribe(NOTIFICATIONS)
        assert (await client.closed()).code == 4401


async def test_revoking_the_token_mid_stream_ends_the_socket(live):
    token, (alice,) = await setup_customers(live, 1)
    async with connect(live.ws_url, customer_token(live, alice)) as client:
        op = await client.subscribe(NOTIFICATIONS)
        await send(live.api, token, "news", alice["id"], title="Before")
        assert (await client.next(op))["data"]["notifications"]["title"] == "Before"
        revoked = await live.api.gql(
            "mutation($c: ID) { revokeCustomerTokens(customerId: $c) { errors { code } } }",
            {"c": alice["id"]},
            token,
        )
        assert data(revoked)["revokeCustomerTokens"]["errors"] == []
        closed = await client.closed()
        assert closed.code == 4403
    # And a new socket with the old token is refused outright.
    async with connect(live.ws_url, init=False) as client:
        await client.socket.send(
            '{"type":"connection_init","payload":{"authorization":"Bearer '
            + customer_token(live, alice)
            + '"}}'
        )
        assert (await client.closed()).code == 4403


async def test_an_expired_token_ends_the_stream_at_its_next_event(live):
    token, (alice,) = await setup_customers(live, 1)
    short = TokenSigner(SECRET, 1, 1).issue(TokenKind.CUSTOMER, raw_id(alice["id"]), 0)
    async with connect(live.ws_url, short) as client:
        await client.subscribe(NOTIFICATIONS)
        await asyncio.sleep(2.1)  # the token's second is over
        await send(live.api, token, "news", alice["id"], title="Too late")
        # The socket closes instead of delivering: no frame comes before the close.
        with pytest.raises(Closed) as ended:
            await client.frame()
        assert ended.value.code == 4403


async def test_an_erased_customer_stream_ends(live):
    _token, (alice,) = await setup_customers(live, 1)
    customer_id = raw_id(alice["id"])
    async with connect(live.ws_url, customer_token(live, alice)) as client:
        await client.subscribe(INBOX_UPDATES)
        await Customer.filter(id=customer_id).delete()
        # Erasure (a later issue) announces itself the way a revocation does.
        await live.api.runtime.services.live.viewer_revoked("customer", customer_id)
        assert (await client.closed()).code == 4403


async def test_staff_may_not_subscribe_to_notifications(live):
    _, token = await admin(live.api)
    async with connect(live.ws_url, token) as client:
        op = await client.subscribe(NOTIFICATIONS)
        frame = await client.frame()
        assert frame["id"] == op
        errors = frame["payload"] if frame["type"] == "error" else frame["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_read_state_reaches_the_customers_other_devices_serialised_once(live):
    token, (alice,) = await setup_customers(live, 1)
    own = customer_token(live, alice)
    async with connect(live.ws_url, own) as phone, connect(live.ws_url, own) as laptop:
        ops = [await phone.subscribe(INBOX_UPDATES), await laptop.subscribe(INBOX_UPDATES)]
        notes = [await phone.subscribe(NOTIFICATIONS)]
        await send(live.api, token, "news", alice["id"])
        note = (await phone.next(notes[0]))["data"]["notifications"]
        counts = live.api.runtime.live.frames
        before = (counts.serialised, counts.sent)
        marked = await live.api.gql(
            "mutation($ids: [ID!]!) { markRead(ids: $ids) { unreadCount errors { code } } }",
            {"ids": [note["id"]]},
            own,
        )
        assert data(marked)["markRead"] == {"unreadCount": 0, "errors": []}
        expected = {"unreadCount": 0, "readIds": [note["id"]], "archivedIds": []}
        raw = []
        for client, op in zip((phone, laptop), ops, strict=True):
            payload = await client.next(op)
            assert payload["data"]["inboxUpdates"] == expected
            raw.append(payload)
        # One serialisation for both sockets: same document, same customer.
        assert (counts.serialised - before[0], counts.sent - before[1]) == (1, 2)


async def test_foreign_origins_are_refused_and_the_allowed_one_accepted(live):
    import websockets

    _token, (alice,) = await setup_customers(live, 1)
    try:
        async with connect(live.ws_url, customer_token(live, alice), origin="https://evil.example"):
            raise AssertionError("a foreign origin was let in")
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code == 403
    async with connect(live.ws_url, customer_token(live, alice), origin="https://app.example.com"):
        pass


async def test_subscriptions_per_socket_are_capped(live):
    _token, (alice,) = await setup_customers(live, 1)
    async with connect(live.ws_url, customer_token(live, alice)) as client:
        for _ in range(3):
            await client.subscribe(NOTIFICATIONS)
        op = await client.subscribe(NOTIFICATIONS)
        frame = await client.frame()
        assert (frame["id"], frame["type"]) == (op, "error")
        assert "limit" in frame["payload"][0]["message"].lower()


async def test_sockets_per_customer_are_capped(live):
    _token, (alice, bob) = await setup_customers(live, 2)
    own = customer_token(live, alice)
    async with connect(live.ws_url, own), connect(live.ws_url, own), connect(live.ws_url, own):
        async with connect(live.ws_url, init=False) as fourth:
            await fourth.socket.send(
                '{"type":"connection_init","payload":{"authorization":"Bearer ' + own + '"}}'
            )
            assert (await fourth.closed()).code == 4429
        async with connect(live.ws_url, customer_token(live, bob)):
            pass  # another customer is not affected
    async with connect(live.ws_url, own):
        pass  # the slots came back when the sockets closed


DELIVERY_UPDATES = """subscription($m: ID!) { deliveryUpdates(messageId: $m) {
  id channel status reason lastError customer { id name } } }"""


async def test_staff_follow_a_messages_deliveries_as_their_role_allows(live):
    token, (alice,) = await setup_customers(live, 1)
    _, auditor = await live.api.staff(Role.AUDITOR)
    _, agent = await live.api.staff(Role.AGENT)
    due = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    message = await send(live.api, token, "news", alice["id"], title="Tracked", scheduleAt=due)
    variables = {"m": message["id"]}
    async with connect(live.ws_url, token) as boss, connect(live.ws_url, auditor) as audit:
        op_boss = await boss.subscribe(DELIVERY_UPDATES, variables)
        op_audit = await audit.subscribe(DELIVERY_UPDATES, variables)
        seen = (await boss.next(op_boss, timeout=10))["data"]["deliveryUpdates"]
        assert (seen["channel"], seen["status"], seen["lastError"]) == ("in_app", "DELIVERED", None)
        assert seen["customer"] == {"id": alice["id"], "name": alice["name"]}
        audited = await audit.next(op_audit, timeout=10)
        assert audited["data"]["deliveryUpdates"]["lastError"] is None
        assert audited["data"]["deliveryUpdates"]["status"] == "DELIVERED"
        codes = {(e["path"][-1], e["extensions"]["code"]) for e in audited["errors"]}
        assert codes == {("lastError", "FORBIDDEN")}
    # A message the caller may not see is answered as one that does not exist.
    for caller in (agent,):
        async with connect(live.ws_url, caller) as stranger:
            op = await stranger.subscribe(DELIVERY_UPDATES, variables)
            frame = await stranger.frame()
            assert (frame["id"], frame["type"]) == (op, "next")
            assert frame["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    async with connect(live.ws_url, customer_token(live, alice)) as customer:
        op = await customer.subscribe(DELIVERY_UPDATES, variables)
        frame = await customer.frame()
        assert (frame["id"], frame["type"]) == (op, "error")
        assert frame["payload"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_every_operation_on_an_open_socket_rechecks_the_caller(live):
    token, (alice,) = await setup_customers(live, 1)
    async with connect(live.ws_url, customer_token(live, alice)) as client:
        # A query over the socket runs as the caller, with loaders of its own.
        op = await client.subscribe("{ unreadCount me { ... on Customer { id } } }")
        payload = await client.next(op)
        assert payload == {"data": {"unreadCount": 0, "me": {"id": alice["id"]}}}
        revoked = await live.api.gql(
            "mutation($c: ID) { revokeCustomerTokens(customerId: $c) { errors { code } } }",
            {"c": alice["id"]},
            token,
        )
        assert data(revoked)["revokeCustomerTokens"]["errors"] == []
        # No subscription was open to hear the revocation; the next operation finds it.
        await client.subscribe(NOTIFICATIONS)
        assert (await client.closed()).code == 4403


async def test_query_limits_hold_on_the_socket_too(live):
    _, (alice,) = await setup_customers(live, 1)
    aliases = " ".join(f"a{n}: title" for n in range(40))
    async with connect(live.ws_url, customer_token(live, alice)) as client:
        op = await client.subscribe(f"subscription {{ notifications {{ {aliases} }} }}")
        frame = await client.frame()
        assert (frame["id"], frame["type"]) == (op, "error"), frame
        assert frame["payload"][0]["extensions"]["code"] == "QUERY_LIMIT"


async def test_a_frame_over_the_body_limit_closes_the_socket(live):
    _, (alice,) = await setup_customers(live, 1)
    async with connect(live.ws_url, customer_token(live, alice)) as client:
        padding = "x" * (1024 * 1024 + 1)
        await client.socket.send(json.dumps({"id": "1", "type": "ping", "payload": padding}))
        assert (await client.closed()).code == 1009  # message too big
