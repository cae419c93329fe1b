"""The Relay `node(id:)` root field: refetch any object by its global ID.

Each type is looked up under exactly the visibility of the field a client first met it in
(its own root field, or its parent's), so `node` reveals nothing those do not: an object the
caller may not see is null, exactly like one that does not exist, and so is an ID that is
malformed or names no type of ours. No error either way, so a probe learns nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

import strawberry

from tidings.core.viewer import Viewer
from tidings.schema.access.types import AccessGrant, ApiKey, Staff
from tidings.schema.context import Info
from tidings.schema.customers.types import Customer, Device, PermissionGrant
from tidings.schema.ids import decode_global_id
from tidings.schema.inbox.types import Notification
from tidings.schema.messages.types import Delivery, Message, Template
from tidings.schema.node import Node
from tidings.schema.permissions import Authenticated

Fetch = Callable[[Info, Viewer, uuid.UUID], Awaitable[Node | None]]


async def _customer(info: Info, viewer: Viewer, item: uuid.UUID) -> Node | None:
    row = await info.context.services.customers.get(viewer, item)
    return Customer.from_model(row) if row else None


async def _permission_grant(info: Info, viewer: Viewer, item: uuid.UUID) -> Node | None:
    """A ledger entry, for whoever may see its customer (as `Customer.permissionHistory`)."""
    services = info.context.services
    (entry,) = await services.consent.entries_by_id([item])
    if entry is None or await services.customers.get(viewer, entry.customer_id) is None:
        return None
    return PermissionGrant.from_entry(entry, datetime.now(UTC))


async def _device(info: Info, viewer: Viewer, item: uuid.UUID) -> Node | None:
    row = await info.context.services.customers.device(viewer, item)
    return Device.from_model(row) if row else None


async def _staff(info: Info, viewer: Viewer, item: uuid.UUID) -> Node | None:
    row = await info.context.services.staff.get_visible(viewer, item)
    return Staff.from_model(row) if row else None


async def _api_key(info: Info, viewer: Viewer, item: uuid.UUID) -> Node | None:
    row = await info.context.services.api_keys.get_visible(viewer, item)
    return ApiKey.from_model(row) if row else None


async def _access_grant(info: Info, viewer: Viewer, item: uuid.UUID) -> Node | None:
    row = await info.context.services.access.get(viewer, item)
    return AccessGrant.from_model(row) if row else None


async def _message(info: Info, viewer: Viewer, item: uuid.UUID) -> Node | None:
    row = await info.context.services.messages.get(viewer, item)
    return Message.from_model(row) if row else None


async def _delivery(info: Info, viewer: Viewer, item: uuid.UUID) -> Node | None:
    row = await info.context.services.messages.delivery(viewer, item)
    return Delivery.from_model(row) if row else None


async def _template(info: Info, viewer: Viewer, item: uuid.UUID) -> Node | None:
    row = await info.context.services.messages.template(viewer, item)
    return Template.from_model(row) if row else None


async def _notification(info: Info, viewer: Viewer, item: uuid.UUID) -> Node | None:
    row = await info.context.services.inbox.get(viewer, item)
    return Notification.from_row(row) if row else None


# Every type implementing Node: tests/schema/test_node.py holds this to the schema's own list.
FETCHERS: dict[str, Fetch] = {
    "Customer": _customer,
    "PermissionGrant": _permission_grant,
    "Device": _device,
    "Staff": _staff,
    "ApiKey": _api_key,
    "AccessGrant": _access_grant,
    "Message": _message,
    "Delivery": _delivery,
    "Template": _template,
    "Notification": _notification,
}


@strawberry.type
class NodeQueries:
    @strawberry.field(
        permission_classes=[Authenticated],
        description="Any object by its global ID (Relay refetch). Null, never an error, when "
        "the object does not exist, when you may not see it (each type is shown to exactly the "
        "callers its own queries and parent fields show it to), and for an ID that is malformed "
        "or names no type. Revoked API keys, revoked or expired access grants and archived "
        "notifications are null too, as their lists leave them out.",
    )
    async def node(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="A global ID, as any `id` field gives.")
        ],
    ) -> Node | None:
        decoded = decode_global_id(id)
        if decoded is None:
            return None
        type_name, item = decoded
        fetch = FETCHERS.get(type_name)
        if fetch is None:
            return None
        return await fetch(info, info.context.viewer, item)
