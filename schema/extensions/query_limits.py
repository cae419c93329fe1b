"""Query limits: depth, aliases, tokens and page size, refused before any resolver runs.

Every refusal is `data: null` with an error whose `extensions.code` is "QUERY_LIMIT".

Where introspection is on (development), `__schema` and `__type` and what lies below them are
exempt from the depth limit: the standard introspection query that GraphiQL and codegen tools
send is 13-15 levels deep. They stay under the token and alias limits, and graphql-core's
MaxIntrospectionDepthRule (graphql-js's bound) keeps their lists (`fields`, `interfaces`,
`possibleTypes`, `inputFields`) from nesting more than three times (it is among graphql-core's
specified rules; here it reports QUERY_LIMIT), so an exempt query cannot multiply its answer
level after level. Where introspection is off, nothing is exempt.
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
from graphql.validation import MaxIntrospectionDepthRule
from strawberry.extensions import SchemaExtension

CODE = {"code": "QUERY_LIMIT"}
PAGE_ARGUMENTS = frozenset({"first", "last"})
INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


def limit_error(message: str) -> GraphQLError:
    return GraphQLError(message, extensions=dict(CODE))


class IntrospectionDepthLimit(MaxIntrospectionDepthRule):
    """graphql-core's bound on nested introspection lists, coded like our other limits."""

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), **CODE}
        super().report_error(error)


class QueryLimits(SchemaExtension):
    def __init__(
        self,
        *,
        max_depth: int,
        max_aliases: int,
        max_tokens: int,
        max_page_size: int,
        introspection: bool = False,
    ) -> None:
        self.max_depth = max_depth
        self.max_aliases = max_aliases
        self.max_tokens = max_tokens
        self.max_page_size = max_page_size
        # Exempt from depth only where it may run at all (DisableIntrospection refuses it
        # otherwise, and the depth limit then applies to it like any other field).
        self.exempt = INTROSPECTION_ROOTS if introspection else frozenset()

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
        context.validation_rules = tuple(
            IntrospectionDepthLimit if rule is MaxIntrospectionDepthRule else rule
            for rule in context.validation_rules
        )
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
            depth = _depth(definition.selection_set, fragments, self.exempt)
            if depth > self.max_depth:
                return limit_error(f"The query is deeper than {self.max_depth} levels.")
            for size in _page_sizes(definition.selection_set, fragments):
                value = _value(size, variables, defaults)
                if isinstance(value, int) and not 0 <= value <= self.max_page_size:
                    return limit_error(
                        f"`first` and `last` must be between 0 and {self.max_page_size}."
                    )
        return None


# The walks below are iterative and visit each fragment once: a recursive walk that followed
# every spread anew took 2^n steps for n fragments that each spread the next twice, and a
# chain of a few hundred fragments (well within the token limit) exceeded Python's recursion
# limit, turning the check itself into an unexpected error.


def _count_aliases(selection_set: SelectionSetNode | None) -> int:
    """Aliased fields written in this selection set (spreads are counted where defined)."""
    count = 0
    stack = [selection_set] if selection_set is not None else []
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode) and selection.alias is not None:
                count += 1
            if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                stack.append(selection.selection_set)
    return count


def _children(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    exempt: frozenset[str],
) -> list[tuple[SelectionSetNode | None, int]]:
    """The selection sets below, each with the levels it adds (a field 1, a fragment 0);
    `exempt` fields add nothing, and neither does anything below them."""
    below: list[tuple[SelectionSetNode | None, int]] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value not in exempt:
                below.append((selection.selection_set, 1))
        elif isinstance(selection, InlineFragmentNode):
            below.append((selection.selection_set, 0))
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:  # unknown: validation reports it
                below.append((fragment.selection_set, 0))
    return below


def _depth(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    exempt: frozenset[str] = frozenset(),
) -> int:
    """The deepest field nesting, following fragments; a cycle counts as nothing more
    (validation reports it)."""
    depths: dict[int, int] = {}
    open_sets: set[int] = set()
    stack = [selection_set]
    while stack:
        node = stack[-1]
        key = id(node)
        if key in depths:
            stack.pop()
            continue
        children = _children(node, fragments, exempt)
        if key not in open_sets:
            open_sets.add(key)
            stack.extend(
                child
                for child, _ in children
                if child is not None and id(child) not in depths and id(child) not in open_sets
            )
            continue
        depths[key] = max(
            (
                levels + (0 if child is None else depths.get(id(child), 0))
                for child, levels in children
            ),
            default=0,
        )
        open_sets.discard(key)
        stack.pop()
    return depths[id(selection_set)]


def _page_sizes(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]
) -> Iterator[Any]:
    """Every `first`/`last` argument value below `selection_set`."""
    visited: set[str] = set()
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                for argument in selection.arguments or ():
                    if argument.name.value in PAGE_ARGUMENTS:
                        yield argument.value
                if selection.selection_set is not None:
                    stack.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in visited:
                    visited.add(name)
                    stack.append(fragments[name].selection_set)


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
