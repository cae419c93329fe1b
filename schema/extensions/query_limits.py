"""Query limits: depth, aliases, tokens and page size, refused before any resolver runs.

Every refusal is `data: null` with an error whose `extensions.code` is "QUERY_LIMIT".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

CODE = {"code": "QUERY_LIMIT"}
PAGE_ARGUMENTS = frozenset({"first", "last"})


def limit_error(message: str) -> GraphQLError:
    return GraphQLError(message, extensions=dict(CODE))


class QueryLimits(SchemaExtension):
    def __init__(
        self, *, max_depth: int, max_aliases: int, max_tokens: int, max_page_size: int
    ) -> None:
        self.max_depth = max_depth
        self.max_aliases = max_aliases
        self.max_tokens = max_tokens
        self.max_page_size = max_page_size

    def on_parse(self) -> Iterator[None]:
        # graphql-core stops lexing past the limit, so a huge document costs nothing to refuse.
        self.execution_context.parse_options["max_tokens"] = self.max_tokens
        yield
        for error in self.execution_context.pre_execution_errors or []:
            if "tokens" in error.message and error.extensions is not None:
                error.message = f"The query has more than {self.max_tokens} tokens."
                error.extensions.update(CODE)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and not context.pre_execution_errors:
            error = self._check(document.definitions, context.variables or {})
            if error is not None:
                context.pre_execution_errors = [error]
        yield

    def _check(self, definitions: Any, variables: dict[str, Any]) -> GraphQLError | None:
        fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
        aliases = 0
        for definition in definitions:
            if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
                aliases += _count_aliases(definition.selection_set)
        if aliases > self.max_aliases:
            return limit_error(f"The query uses {aliases} aliases; at most {self.max_aliases}.")
        for definition in definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            defaults = {
                v.variable.name.value: v.default_value
                for v in definition.variable_definitions or ()
            }
            depth = _depth(definition.selection_set, fragments, 0, self.max_depth, set())
            if depth > self.max_depth:
                return limit_error(f"The query is deeper than {self.max_depth} levels.")
            for size in _page_sizes(definition.selection_set, fragments, set()):
                value = _value(size, variables, defaults)
                if isinstance(value, int) and not 0 <= value <= self.max_page_size:
                    return limit_error(
                        f"`first` and `last` must be between 0 and {self.max_page_size}."
                    )
        return None


def _count_aliases(selection_set: SelectionSetNode | None) -> int:
    if selection_set is None:
        return 0
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode) and selection.alias is not None:
            count += 1
        if isinstance(selection, FieldNode | InlineFragmentNode):
            count += _count_aliases(selection.selection_set)
    return count


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    depth: int,
    limit: int,
    seen: set[str],
) -> int:
    """The deepest field nesting; stops counting once past `limit`."""
    if selection_set is None or depth > limit:
        return depth
    deepest = depth
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            below = selection.selection_set
            deepest = max(deepest, _depth(below, fragments, depth + 1, limit, seen))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection.selection_set, fragments, depth, limit, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                continue  # unknown or cyclic: validation reports it
            deepest = max(
                deepest, _depth(fragment.selection_set, fragments, depth, limit, seen | {name})
            )
    return deepest


def _page_sizes(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
) -> Iterator[Any]:
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            for argument in selection.arguments or ():
                if argument.name.value in PAGE_ARGUMENTS:
                    yield argument.value
            yield from _page_sizes(selection.selection_set, fragments, seen)
        elif isinstance(selection, InlineFragmentNode):
            yield from _page_sizes(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                yield from _page_sizes(fragments[name].selection_set, fragments, seen | {name})


def _value(node: Any, variables: dict[str, Any], defaults: dict[str, Any]) -> Any:
    if isinstance(node, IntValueNode):
        try:
            return int(node.value)
        except ValueError:
            return None
    if isinstance(node, VariableNode):
        name = node.name.value
        if name in variables:
            return variables[name]
        default = defaults.get(name)
        return _value(default, variables, defaults) if default is not None else None
    return None
