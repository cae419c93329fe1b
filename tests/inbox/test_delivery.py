"""A notification that arrives the real way: send, the worker, the in-app provider; then the
customer's inbox, the live event the worker publishes, and reading it."""

from __future__ import annotations

import asyncio

from tests.conftest import data
from tests.core.support import create_category, raw_id
from tests.delivery.support import create_customer, grant, send
from tests.inbox.support import INBOX, MARK_READ, mutate, unread
from tidings.core.enums import Role
from tidings.core.live.events import NOTIFICATION, customer_topic
from tidings.schema.inbox.types import Notification


async def test_a_sent_notification_reaches_the_inbox(api):
    _, admin = await api.staff(Role.ADMIN)
    # HIGH_VALUE: marketing goes out in real time (ORDINARY's would wait for a digest).
    customer = await create_customer(api, admin, email="ina@example.com", tier="HIGH_VALUE")
    customer_id = raw_id(customer["id"])
    await create_category(api, admin, "promos", "MARKETING", defaultChannels=["in_app"])
    await grant(api, admin, customer["id"], "promos", "in_app")
    token = api.customer_token(customer_id)
    assert await unread(api, token) == 0

    live = api.runtime.services.live.bus.subscribe([customer_topic(customer_id)])
    with live:
        await send(
            api,
            admin,
            "promos",
            customer["id"],
            title="Spring sale",
            body="20% off today",
            data={"url": "/sale"},
        )
        assert await api.runtime.worker.run_once() == 1
        event, _ = await asyncio.wait_for(live.get(), timeout=5)

    inbox = data(await api.gql(INBOX, {"first": 10}, token))["inbox"]
    (edge,) = inbox["edges"]
    node = edge["node"]
    assert (node["category"], node["title"], node["body"]) == (
        "promos",
        "Spring sale",
        "20% off today",
    )
    # The caller's data, and the links Tidings adds (tests/delivery/test_unsubscribe_links.py).
    assert node["data"]["url"] == "/sale" and node["readAt"] is None
    assert set(node["data"]) == {"url", "preferences_url", "unsubscribe_url"}
    assert await unread(api, token) == 1

    # The subscription builds the same Notification from the worker's live event.
    assert event.kind == NOTIFICATION
    live_node = Notification.from_event_data(event.data)
    assert live_node.id == node["id"]
    assert (live_node.title, live_node.body, live_node.data) == (
        "Spring sale",
        "20% off today",
        node["data"],
    )
    assert live_node.customer_uuid == customer_id and live_node.read_at is None
    assert live_node.created_at.isoformat() == node["createdAt"]

    assert await mutate(api, token, MARK_READ, [node["id"]]) == {"unreadCount": 0, "errors": []}
    # Nobody else reads it: another customer's inbox is empty, staff are refused.
    other = await create_customer(api, admin, email="otto@example.com")
    other_token = api.customer_token(raw_id(other["id"]))
    assert data(await api.gql(INBOX, {}, other_token))["inbox"]["edges"] == []
    refused = await api.gql(INBOX, {}, admin)
    assert list(refused["data"].values()) == [None] and "Spring sale" not in str(refused)
