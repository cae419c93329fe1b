"""Parse and validate each distinct query once: clients send the same few documents.

Only documents that parsed and validated cleanly are remembered, keyed by their text, in a
bounded LRU shared by the schema's operations. Query limits still run on every request
(they depend on variables), before this extension's shortcut.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension


class DocumentStore:
    """A bounded LRU of query text → (parsed document, validated without errors)."""

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[str, tuple[DocumentNode, bool]] = OrderedDict()

    def get(self, query: str) -> tuple[DocumentNode, bool] | None:
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
        return entry

    def put(self, query: str, document: DocumentNode, valid: bool) -> None:
        self._entries[query] = (document, valid)
        self._entries.move_to_end(query)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)


class DocumentCache(SchemaExtension):
    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        entry = self.store.get(context.query) if context.query else None
        if entry is not None:
            context.graphql_document = entry[0]
        yield
        if entry is None and context.query and context.graphql_document is not None:
            if not context.pre_execution_errors:
                self.store.put(context.query, context.graphql_document, False)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        entry = self.store.get(context.query) if context.query else None
        if entry is not None and entry[1] and context.pre_execution_errors is None:
            context.pre_execution_errors = []  # validated before: strawberry skips it
        yield
        if entry is not None and not entry[1] and context.pre_execution_errors == []:
            self.store.put(context.query, entry[0], True)
