"""Websockets run in an audit scope too: the socket's request id and peer, the caller as
authenticated (and re-checked per operation and event); and `serve` records the tier policy
when its lifespan starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.audit.support import actor, count, entries, since
from tests.core.support import admin, create_customer, raw_id
from tests.delivery.support import send
from tests.live.conftest import LiveServer
from tests.live.ws import connect
from tidings.core.delivery.tier_audit import TIER_POLICY

READ = "query Read($id: ID!) { customer(id: $id) { email } }"


async def test_websocket_operations_and_events_carry_the_socket_and_actor(
    live: LiveServer,
) -> None:
    api = live.api
    # The lifespan recorded the tier policy in force as `serve` starts.
    assert [e.action for e in await entries(TIER_POLICY)] == [TIER_POLICY]
    staff_id, token = await admin(api)
    customer = await create_customer(api, token, email="ws@example.com")
    await api.gql(
        'mutation { createCategory(input: {key: "orders", name: "Orders", kind: TRANSACTIONAL, '
        'defaultChannels: ["in_app"]}) { errors { code } } }',
        token=token,
    )
    message = await send(api, token, "orders", customer["id"])
    before = await count()
    async with connect(live.ws_url, token) as client:
        op = await client.subscribe(READ, {"id": customer["id"]})
        payload = await client.next(op)
        assert payload["data"]["customer"] == {"email": "ws@example.com"}
        watch = await client.subscribe(
            "subscription Watch($m: ID!) { deliveryUpdates(messageId: $m) "
            "{ status customer { email } } }",
            {"m": message["id"]},
        )
        await live.subscribed(1)
        event = await client.next(watch, timeout=10)
        assert event["data"]["deliveryUpdates"]["customer"] == {"email": "ws@example.com"}
    reads = await since(before, "customer.read")
    assert reads, await since(before)
    first = reads[0]
    assert first.customer_id == raw_id(customer["id"])
    assert first.detail == {"fields": ["email"], "operation": "Read"}
    assert actor(first) == f"staff:{staff_id}" and first.ip == "127.0.0.1"
    assert first.request_id
    assert {e.request_id for e in reads} == {first.request_id}  # one socket, one request
    assert {actor(e) for e in reads} == {f"staff:{staff_id}"}
    assert {e.detail["operation"] for e in reads} == {"Read", "Watch"}


async def test_a_frame_shared_between_subscribers_is_recorded_for_each(live: LiveServer) -> None:
    api = live.api
    first_id, first = await admin(api)
    second_id, second = await admin(api)
    customer = await create_customer(api, first, email="shared@example.com")
    await api.gql(
        'mutation { createCategory(input: {key: "orders", name: "Orders", kind: TRANSACTIONAL, '
        'defaultChannels: ["in_app"]}) { errors { code } } }',
        token=first,
    )
    due = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    message = await send(api, first, "orders", customer["id"], scheduleAt=due)
    watch = "subscription Watch($m: ID!) { deliveryUpdates(messageId: $m) { status customer { email } } }"
    before = await count()
    frames = 0
    async with connect(live.ws_url, first) as one, connect(live.ws_url, second) as two:
        op_one = await one.subscribe(watch, {"m": message["id"]})
        op_two = await two.subscribe(watch, {"m": message["id"]})
        await live.subscribed(2)
        for client, op in ((one, op_one), (two, op_two)):
            status = None
            while status != "DELIVERED":
                event = await client.next(op, timeout=10)
                update = event["data"]["deliveryUpdates"]
                assert update["customer"] == {"email": "shared@example.com"}
                status = update["status"]
                frames += 1
    reads = await since(before, "customer.read")
    # Every frame that carried the email is one read by its subscriber, whether it was
    # executed for that subscriber or shared from the other's execution.
    assert len(reads) == frames
    assert {actor(e) for e in reads} == {f"staff:{first_id}", f"staff:{second_id}"}
    assert {e.customer_id for e in reads} == {raw_id(customer["id"])}
    assert {e.detail["operation"] for e in reads} == {"Watch"}
    assert len({e.request_id for e in reads}) == 2  # each socket its own
    # Whether the second subscriber's frame was shared or executed again depends on which
    # task reaches the event first; either way the count above holds.
    counts = api.runtime.live.frames
    assert counts.sent >= frames and counts.serialised <= counts.sent
