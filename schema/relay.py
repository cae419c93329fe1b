"""Relay connections over keyset pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from tidings.core.pagination import Page, encode_cursor

NodeT = TypeVar("NodeT")

# Descriptions of the paging arguments every connection field takes.
FIRST = (
    "How many items to return (the page size). More than the server's maximum "
    "(`TIDINGS_MAX_PAGE_SIZE`, 100 by default) is refused with QUERY_LIMIT."
)
AFTER = "Return the items after this cursor (`pageInfo.endCursor` of the previous page)."
# The paging arguments, described: `first: First = 20, after: After = None`.
First = Annotated[int | None, strawberry.argument(description=FIRST)]
After = Annotated[str | None, strawberry.argument(description=AFTER)]


@strawberry.type(description="Where a page sits in its list, and the cursors to move on.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Whether items come before this page (a page fetched with `after`)."
    )
    start_cursor: str | None = strawberry.field(
        description="The first item's cursor; null for an empty page."
    )
    end_cursor: str | None = strawberry.field(
        description="The last item's cursor: pass it as `after` for the next page; null for an "
        "empty page."
    )


@strawberry.type(description="One item of a page, with its cursor.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(description="Opaque; pass it as `after` to continue from here.")
    node: NodeT = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list (a Relay connection).")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The page's items, with cursors.")
    page_info: PageInfo = strawberry.field(description="Whether more pages follow, and cursors.")

    @strawberry.field(description="The nodes of `edges`, for clients that need no cursors.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]


def connection(
    page: Page[Any],
    to_node: Callable[[Any], NodeT],
    cursor: Callable[[Any], str] = encode_cursor,
) -> Connection[NodeT]:
    """Map a page of rows to a connection of nodes; `cursor` makes a row's `id` a cursor
    (default: a UUID id's)."""
    rows: Sequence[Any] = page.items
    edges = [Edge(cursor=cursor(row.id), node=to_node(row)) for row in rows]
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
