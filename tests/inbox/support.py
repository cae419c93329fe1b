"""Shared set-up for the inbox tests: customers, notifications stored as the in-app provider
stores them, and the inbox's documents."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tests.conftest import Api, data
from tests.core.support import create_customer, raw_id
from tidings.core.enums import Role
from tidings.core.ids import new_id
from tidings.core.models.messages import Notification
from tidings.schema.ids import to_global_id

INBOX = """
query($first: Int, $after: String, $unreadOnly: Boolean) {
  inbox(first: $first, after: $after, unreadOnly: $unreadOnly) {
    edges { cursor node { id category title body data createdAt readAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
UNREAD = "{ unreadCount }"
MARK_READ = """
mutation($ids: [ID!]!) { markRead(ids: $ids) { unreadCount errors { code field message } } }
"""
MARK_ALL_READ = "mutation { markAllRead { unreadCount errors { code field message } } }"
ARCHIVE = """
mutation($ids: [ID!]!) { archive(ids: $ids) { unreadCount errors { code field message } } }
"""


async def new_customer(api: Api) -> tuple[uuid.UUID, str]:
    """A customer made by an admin through the API, and a token for the customer."""
    _, admin = await api.staff(Role.ADMIN)
    customer = await create_customer(api, admin)
    customer_id = raw_id(customer["id"])
    return customer_id, api.customer_token(customer_id)


async def store(
    customer_id: uuid.UUID, count: int, *, read: bool = False, archived: bool = False
) -> list[uuid.UUID]:
    """`count` notifications, oldest first, as the in-app provider stores them."""
    now = datetime.now(UTC)
    rows = [
        Notification(
            id=new_id(),
            customer_id=customer_id,
            delivery_id=uuid.uuid4(),
            category="orders",
            title=f"Title {i}",
            body=f"Body {i}",
            data={"n": i},
            read_at=now if read else None,
            archived_at=now if archived else None,
        )
        for i in range(count)
    ]
    await Notification.bulk_create(rows)
    return [row.id for row in rows]


def gid(notification_id: uuid.UUID) -> str:
    return to_global_id("Notification", notification_id)


async def page(api: Api, token: str, **variables: Any) -> dict[str, Any]:
    return data(await api.gql(INBOX, variables, token))["inbox"]


def ids_of(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def unread(api: Api, token: str) -> int:
    return data(await api.gql(UNREAD, token=token))["unreadCount"]


async def mutate(api: Api, token: str, document: str, ids: list[str] | None = None) -> dict:
    result = data(await api.gql(document, {"ids": ids} if ids is not None else None, token))
    (payload,) = result.values()
    return payload


async def states(ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[Any, Any]]:
    """Each notification's (read_at, archived_at), straight from the table."""
    rows = await Notification.filter(id__in=ids).values_list("id", "read_at", "archived_at")
    return {row_id: (read_at, archived_at) for row_id, read_at, archived_at in rows}
