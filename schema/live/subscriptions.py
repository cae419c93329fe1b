"""`Subscription`: a customer's notifications and inbox changes, and a message's deliveries
for staff. Each event re-checks the caller (see `stream.events`) before it is sent."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Annotated

import strawberry

from tidings.core.live.catchup import SentLog, changed_deliveries, missed_notifications
from tidings.core.live.events import (
    DELIVERY,
    INBOX,
    NOTIFICATION,
    RESYNC,
    LiveEvent,
    customer_topic,
    message_topic,
)
from tidings.core.live.publisher import delivery_row
from tidings.schema.context import Info
from tidings.schema.errors import NotFoundGraphQLError
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.inbox.types import InboxUpdate, Notification
from tidings.schema.live.direct import direct_frames
from tidings.schema.live.leaf import INBOX_UPDATE_FIELDS, NOTIFICATION_FIELDS, leaf_renderer
from tidings.schema.live.stream import enter, events, live_runtime
from tidings.schema.messages.types import Delivery
from tidings.schema.permissions import ANY_STAFF, CustomersOnly

ONLY_NOTIFICATIONS = frozenset({NOTIFICATION})
ONLY_INBOX = frozenset({INBOX})
ONLY_DELIVERIES = frozenset({DELIVERY})


@strawberry.type(
    description="Live events over the websocket at /graphql (`graphql-transport-ws`), with the "
    "bearer token in `connection_init`. The caller is checked again for every event; when it "
    "is no longer allowed, the socket closes with 4403."
)
class Subscription:
    @strawberry.subscription(
        permission_classes=[CustomersOnly],
        description="The calling customer's in-app notifications, live. After a gap in the "
        "bus, the ones missed are sent from the inbox.",
    )
    async def notifications(self, info: Info) -> AsyncGenerator[Notification, None]:
        customer_id = info.context.viewer.id
        limit = live_runtime(info).catch_up_limit
        leaf = leaf_renderer(info, NOTIFICATION_FIELDS)
        sent = SentLog()
        direct = direct_frames(leaf, ONLY_NOTIFICATIONS, live_runtime(info).frames, sent)
        topics = [customer_topic(customer_id)]
        async for event, viewer in events(info, topics, ONLY_NOTIFICATIONS, direct):
            if event.kind == RESYNC:
                for data in await missed_notifications(customer_id, sent, limit):
                    sent.fresh(data["id"], data["created_at"])
                    missed = LiveEvent(event.topic, NOTIFICATION, data)
                    if await enter(info, viewer, missed, leaf):
                        yield Notification.from_event_data(data)
            elif sent.fresh(event.data["id"], event.data.get("created_at")):
                if await enter(info, viewer, event, leaf):
                    yield Notification.from_event_data(event.data)

    @strawberry.subscription(
        permission_classes=[CustomersOnly],
        description="Read and archive changes made on any of the customer's devices. After a "
        "gap in the bus, one update with the current unread count: refetch the inbox.",
    )
    async def inbox_updates(self, info: Info) -> AsyncGenerator[InboxUpdate, None]:
        customer_id = info.context.viewer.id
        leaf = leaf_renderer(info, INBOX_UPDATE_FIELDS)
        direct = direct_frames(leaf, ONLY_INBOX, live_runtime(info).frames, None)
        async for event, viewer in events(info, [customer_topic(customer_id)], ONLY_INBOX, direct):
            if event.kind == RESYNC:
                unread = await info.context.services.inbox.unread_count(viewer)
                data = {"unread_count": unread, "read_ids": [], "archived_ids": []}
                event = LiveEvent(event.topic, INBOX, data)
            if await enter(info, viewer, event, leaf):
                yield InboxUpdate.from_event_data(event.data)

    @strawberry.subscription(
        permission_classes=[ANY_STAFF],
        description="Status changes of a message's deliveries, for staff who may see the "
        "message. After a gap in the bus, the deliveries changed meanwhile are sent again.",
    )
    async def delivery_updates(
        self,
        info: Info,
        message_id: Annotated[
            strawberry.ID, strawberry.argument(description="The message to follow.")
        ],
    ) -> AsyncGenerator[Delivery, None]:
        viewer = info.context.viewer
        message = await info.context.services.messages.get(
            viewer, parse_id(message_id, "Message") or MISSING
        )
        if message is None:  # as for a message that does not exist
            raise NotFoundGraphQLError("No such message.")
        limit = live_runtime(info).catch_up_limit
        since = datetime.now(UTC)
        async for event, fresh in events(info, [message_topic(message.id)], ONLY_DELIVERIES):
            batch = (
                await changed_deliveries(message.id, since, limit)
                if event.kind == RESYNC
                else [event.data]
            )
            for data in batch:
                if data.get("updated_at"):
                    since = max(since, datetime.fromisoformat(data["updated_at"]))
                one = event if event.kind != RESYNC else LiveEvent("", DELIVERY, data)
                if await enter(info, fresh, one):
                    yield Delivery.from_model(delivery_row(data))
