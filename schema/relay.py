"""Relay connections over keyset pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from tidings.core.pagination import Page, encode_cursor

NodeT = TypeVar("NodeT")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo

    @strawberry.field(description="The nodes of `edges`, for clients that need no cursors.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]


def connection(page: Page[Any], to_node: Callable[[Any], NodeT]) -> Connection[NodeT]:
    """Map a page of rows (each with a UUID `id`) to a connection of nodes."""
    rows: Sequence[Any] = page.items
    edges = [Edge(cursor=encode_cursor(row.id), node=to_node(row)) for row in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


def page_size(first: int | None, maximum: int, default: int = 20) -> int:
    """`first`, clamped: the query-limit extension has already refused values over the maximum."""
    return max(0, min(default if first is None else first, maximum))
