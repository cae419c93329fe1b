"""Look-ahead: which fields an operation asks for below a resolver, so a connection can load
its nodes' lists with the page and spare each node an `await`.

A node's list field read through a DataLoader is an awaitable per node: graphql-core then
gathers the page's nodes as tasks, a few event-loop rounds per node. A connection that loads
those lists for its whole page before returning lets the node resolvers answer from the
loader's cache synchronously (`loaded`), with the same rows, queries and errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from tidings.schema.context import Info

T = TypeVar("T")


def _fields(selection_set: SelectionSetNode | None, fragments: dict, seen: set[str]) -> list:
    """The field nodes of a selection set, fragments expanded (each named fragment once)."""
    found: list[FieldNode] = []
    if selection_set is None:
        return found
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found += _fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                seen.add(name)
                found += _fields(fragment.selection_set, fragments, seen)
    return found


def selected_below(info: Info, path: Iterable[str]) -> set[str]:
    """The schema names of the fields selected at `path` (e.g. `("edges", "node")`) below the
    current field, under any alias or fragment. A superset: `@skip`/`@include` are ignored,
    which can only make a caller load something that is then not read."""
    raw: Any = info._raw_info
    fragments = raw.fragments
    level = [node for node in raw.field_nodes]
    for name in path:
        level = [
            child
            for node in level
            for child in _fields(node.selection_set, fragments, set())
            if child.name.value == name
        ]
    return {
        child.name.value
        for node in level
        for child in _fields(node.selection_set, fragments, set())
    }


async def settle(*pending: Awaitable[Any]) -> None:
    """Wait for loads started ahead; a failure stays in its loader's future, to be raised by
    the field that reads it, exactly where it would have been raised without the look-ahead."""
    await asyncio.gather(*pending, return_exceptions=True)


def loaded(future: Awaitable[T]) -> tuple[bool, T | None]:
    """`(True, value)` when a loader's future has already succeeded, `(False, None)` when the
    caller must await it (pending, failed or cancelled)."""
    if isinstance(future, asyncio.Future) and future.done():
        if not future.cancelled() and future.exception() is None:
            return True, future.result()
    return False, None
