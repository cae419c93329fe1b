"""Refuse text no database can store: NUL characters and unpaired surrogates.

PostgreSQL rejects NUL in text and no driver can encode a lone surrogate; left alone, either
surfaces as an unexpected error deep in a service. Checked once, before any resolver runs,
over the variables and the document's string literals.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, StringValueNode, visit
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

MESSAGE = "Text may not contain NUL characters or unpaired surrogates."


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _values_unstorable(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _unstorable(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


class _Strings(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.bad = False

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if _unstorable(node.value):
            self.bad = True


class StorableText(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and not context.pre_execution_errors:
            strings = _Strings()
            visit(context.graphql_document, strings)
            if strings.bad or _values_unstorable(context.variables or {}):
                context.pre_execution_errors = [
                    GraphQLError(MESSAGE, extensions={"code": "BAD_USER_INPUT"})
                ]
        yield
