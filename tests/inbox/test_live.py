"""Every inbox change that changed something is announced on the live bus after it commits,
as the lead's subscriptions expect it; a change that changed nothing announces nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.inbox.support import (
    ARCHIVE,
    MARK_ALL_READ,
    MARK_READ,
    gid,
    mutate,
    new_customer,
    store,
)
from tidings.core.live import LiveSubscription
from tidings.core.live.events import INBOX, customer_topic
from tidings.core.models.messages import Notification
from tidings.schema.inbox.types import InboxUpdate


def subscribe(api: Any, customer: uuid.UUID) -> LiveSubscription:
    return api.runtime.services.live.bus.subscribe([customer_topic(customer)])


async def next_event(subscription: LiveSubscription) -> tuple[str, dict[str, Any]]:
    event, _ = await asyncio.wait_for(subscription.get(), timeout=5)
    assert event.topic in subscription.topics
    return event.kind, event.data


async def test_each_change_is_announced_once_committed(api):
    customer, token = await new_customer(api)
    ids = await store(customer, 3)
    with subscribe(api, customer) as subscription:
        await mutate(api, token, MARK_READ, [gid(ids[0]), gid(ids[0])])
        kind, data = await next_event(subscription)
        assert kind == INBOX
        assert data == {"unread_count": 2, "read_ids": [str(ids[0])], "archived_ids": []}
        # Published after the commit: what the event says is already in the table.
        assert (await Notification.get(id=ids[0])).read_at is not None

        await mutate(api, token, ARCHIVE, [gid(ids[2]), gid(ids[0])])
        assert await next_event(subscription) == (
            INBOX,
            {"unread_count": 1, "read_ids": [], "archived_ids": sorted([str(ids[0]), str(ids[2])])},
        )

        await mutate(api, token, MARK_ALL_READ)
        assert await next_event(subscription) == (
            INBOX,
            {"unread_count": 0, "read_ids": [str(ids[1])], "archived_ids": []},
        )


async def test_a_change_that_changed_nothing_announces_nothing(api):
    customer, token = await new_customer(api)
    other, _ = await new_customer(api)
    ids = await store(customer, 2)
    theirs = await store(other, 1)
    await mutate(api, token, MARK_READ, [gid(ids[0])])
    await mutate(api, token, ARCHIVE, [gid(ids[1])])
    with subscribe(api, customer) as subscription:
        await mutate(api, token, MARK_READ, [gid(ids[0])])  # read already
        await mutate(api, token, ARCHIVE, [gid(ids[1])])  # archived already
        await mutate(api, token, MARK_ALL_READ)  # nothing unread in the inbox
        await mutate(api, token, MARK_READ, [])
        await mutate(api, token, MARK_READ, [gid(ids[0]), gid(theirs[0])])  # NOT_FOUND
        await mutate(api, token, ARCHIVE, ["not-an-id"])  # NOT_FOUND
        # The bus delivers in order: the first event must be this change's.
        fresh = await store(customer, 1)
        await mutate(api, token, MARK_READ, [gid(fresh[0])])
        kind, data = await next_event(subscription)
        assert (kind, data["read_ids"]) == (INBOX, [str(fresh[0])])


async def test_events_go_to_the_changing_customer_alone(api):
    customer, token = await new_customer(api)
    other, other_token = await new_customer(api)
    ids = await store(customer, 1)
    theirs = await store(other, 1)
    with subscribe(api, other) as subscription:
        await mutate(api, token, MARK_READ, [gid(ids[0])])
        await mutate(api, other_token, ARCHIVE, [gid(theirs[0])])
        kind, data = await next_event(subscription)
        assert (kind, data["archived_ids"], data["read_ids"]) == (INBOX, [str(theirs[0])], [])


async def test_inbox_update_from_an_event_uses_the_inbox_ids(api):
    customer, token = await new_customer(api)
    ids = await store(customer, 2)
    with subscribe(api, customer) as subscription:
        await mutate(api, token, MARK_READ, [gid(ids[0])])
        _, data = await next_event(subscription)
    update = InboxUpdate.from_event_data(data)
    assert update == InboxUpdate(unread_count=1, read_ids=[gid(ids[0])], archived_ids=[])
