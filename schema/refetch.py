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
from typing import Annotated, Any

import strawberry

from tidings.core.services import Services
from tidings.core.viewer import Viewer
from tidings.schema.access.types import AccessGrant, ApiKey, Staff
from tidings.schema.context import Info
from tidings.schema.customers.consent_types import Device, PermissionGrant
from tidings.schema.customers.types import Customer
from tidings.schema.ids import decode_global_id
from tidings.schema.inbox.types import Notification
from tidings.schema.messages.types import Delivery, Message, Template
from tidings.schema.node import Node
from tidings.schema.permissions import Authenticated

Fetch = Callable[[Info, Viewer, uuid.UUID], Awaitable[Node | None]]
Get = Callable[[Viewer, uuid.UUID], Awaitable[Any]]


def _lookup(get: Callable[[Services], Get], build: Callable[[Any], Node]) -> Fetch:
    """A fetcher from a service's visibility-checked lookup (`None`: not there, or hidden)
    and the type's constructor."""

    async def fetch(info: Info, viewer: Viewer, item: uuid.UUID) -> Node | None:
        row = await get(info.context.services)(viewer, item)
        return build(row) if row else None

    return fetch


async def _permission_grant(info: Info, viewer: Viewer, item: uuid.UUID) -> Node | None:
    """A ledger entry, for whoever may see its customer (as `Customer.permissionHistory`)."""
    services = info.context.services
    (entry,) = await services.consent.entries_by_id([item])
    if entry is None or await services.customers.get(viewer, entry.customer_id) is None:
        return None
    return PermissionGrant.from_entry(entry, datetime.now(UTC))


# Every type implementing Node: tests/schema/test_node.py holds this to the schema's own list.
FETCHERS: dict[str, Fetch] = {
    "Customer": _lookup(lambda s: s.customers.get, Customer.from_model),
    "PermissionGrant": _permission_grant,
    "Device": _lookup(lambda s: s.customers.device, Device.from_model),
    "Staff": _lookup(lambda s: s.staff.get_visible, Staff.from_model),
    "ApiKey": _lookup(lambda s: s.api_keys.get_visible, ApiKey.from_model),
    "AccessGrant": _lookup(lambda s: s.access.get, AccessGrant.from_model),
    "Message": _lookup(lambda s: s.messages.get, Message.from_model),
    "Delivery": _lookup(lambda s: s.messages.delivery, Delivery.from_model),
    "Template": _lookup(lambda s: s.messages.template, Template.from_model),
    "Notification": _lookup(lambda s: s.inbox.get, Notification.from_row),
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
