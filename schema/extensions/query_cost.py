"""The query cost limit: what a document may ask the database for, refused before any resolver
runs (`data: null`, `extensions.code = "QUERY_LIMIT"`, like the other limits).

Depth, aliases and page size each stay within bounds while their product does not: 100
customers × 29 aliases of a 100-entry history was 290,000 rows within every other limit. The
cost multiplies them out, from the document alone:

- every field costs 1;
- a field with a `first` argument (a connection) multiplies the cost of its selection by its
  page size: `first` as written, or from the request's variables, or the argument's default,
  capped at the maximum page size (larger values are refused by the page-size limit);
- the `edges` and `nodes` of a connection are that page, so they do not multiply again;
- any other list of objects (`permissionGrants`, `preferences`, `devices`, `rules`, ...)
  multiplies by `PLAIN_LIST_SIZE` (10);
- introspection fields (`__schema`, `__type`) cost 1, whatever they select: they are exempt,
  as from the depth limit (graphql-core's MaxIntrospectionDepthRule bounds their lists), and
  `__typename` is an ordinary leaf.

Fields are collected as execution collects them: the same response key selected twice (by
fragments, say) runs once and is costed once, merging the two selections. Queries,
mutations and subscriptions are costed alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from strawberry.extensions import SchemaExtension

from tidings.schema.extensions.query_limits import limit_error

PLAIN_LIST_SIZE = 10
PAGE_ARGUMENTS = ("first", "last")

# One field of a selection: its response key, and every node that selects it there (fields of
# the same key are merged by execution, so their selections are too).
Group = tuple[FieldNode, ...]


class QueryCost(SchemaExtension):
    """Refuses an operation whose cost (module docstring) is over `max_cost`."""

    def __init__(self, *, max_cost: int, max_page_size: int, max_depth: int) -> None:
        self.max_cost = max_cost
        self.max_page_size = max_page_size
        # The depth limit has already been checked: deeper walks only follow a fragment cycle,
        # which validation reports.
        self.max_depth = max_depth

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and not context.pre_execution_errors:
            schema: GraphQLSchema = context.schema._schema
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            for definition in document.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                cost = Costing(
                    schema,
                    fragments,
                    context.variables or {},
                    definition,
                    max_page_size=self.max_page_size,
                    max_depth=self.max_depth,
                ).operation()
                if cost > self.max_cost:
                    context.pre_execution_errors = [
                        limit_error(f"The query costs {cost}; at most {self.max_cost}.")
                    ]
                    break
        yield


def _root(schema: GraphQLSchema, operation: OperationType) -> GraphQLObjectType | None:
    if operation is OperationType.QUERY:
        return schema.query_type
    if operation is OperationType.MUTATION:
        return schema.mutation_type
    return schema.subscription_type


class Costing:
    """The cost of one operation; each merged field is costed once (memoised by its nodes),
    so fragments spread many times cost the walk no more than they cost the answer."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        operation: OperationDefinitionNode,
        *,
        max_page_size: int,
        max_depth: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.operation_node = operation
        self.defaults = {
            v.variable.name.value: v.default_value for v in operation.variable_definitions or ()
        }
        self.max_page_size = max_page_size
        self.max_depth = max_depth
        self.memo: dict[tuple[str, tuple[int, ...]], int] = {}

    def operation(self) -> int:
        root = _root(self.schema, self.operation_node.operation)
        if root is None:
            return 0  # validation reports the missing root type
        return self._selections(root, [self.operation_node.selection_set], 1)

    def _selections(
        self, parent: GraphQLObjectType, sets: Sequence[SelectionSetNode], level: int
    ) -> int:
        if level > self.max_depth:
            return 0
        total = 0
        for group in self._collect(sets):
            key = (parent.name, tuple(id(node) for node in group))
            if key not in self.memo:
                self.memo[key] = self._field(parent, group, level)
            total += self.memo[key]
        return total

    def _collect(self, sets: Sequence[SelectionSetNode]) -> list[Group]:
        """Fields by response key, through inline and named fragments (each named fragment
        once, as execution does; an unknown one is left to validation)."""
        groups: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()
        stack = list(reversed(sets))
        while stack:
            for selection in stack.pop().selections:
                if isinstance(selection, FieldNode):
                    key = (selection.alias or selection.name).value
                    groups.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    stack.append(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in self.fragments and name not in visited:
                        visited.add(name)
                        stack.append(self.fragments[name].selection_set)
        return [tuple(nodes) for nodes in groups.values()]

    def _field(self, parent: GraphQLObjectType, group: Group, level: int) -> int:
        name = group[0].name.value
        definition = parent.fields.get(name)
        if name.startswith("__") or definition is None:
            return 1  # introspection (exempt), or an unknown field validation reports
        children = [node.selection_set for node in group if node.selection_set is not None]
        if not children:
            return 1
        named = get_named_type(definition.type)
        # An interface or union costs what its costliest possible type would.
        types = (
            [named]
            if isinstance(named, GraphQLObjectType)
            else list(self.schema.get_possible_types(named))  # type: ignore[arg-type]
        )
        below = max((self._selections(t, children, level + 1) for t in types), default=0)
        return 1 + self._multiplier(parent, definition, group) * below

    def _multiplier(self, parent: GraphQLObjectType, field: GraphQLField, group: Group) -> int:
        pages = [a for a in PAGE_ARGUMENTS if a in field.args]
        if pages:
            sizes = [self._page(node, argument, field) for node in group for argument in pages]
            return max(sizes, default=0)
        if parent.name.endswith("Connection"):
            return 1  # `edges` and `nodes`: the page their connection field has counted
        return PLAIN_LIST_SIZE if is_list_type(get_nullable_type(field.type)) else 1

    def _page(self, node: FieldNode, argument: str, field: GraphQLField) -> int:
        value: Any = None
        for written in node.arguments or ():
            if written.name.value == argument:
                value = self._value(written.value)
        if value is None and argument == "first":
            value = field.args[argument].default_value
        if not isinstance(value, int) or isinstance(value, bool):
            return self.max_page_size if argument == "first" else 0
        return max(0, min(value, self.max_page_size))

    def _value(self, node: Any) -> Any:
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, VariableNode):
            name = node.name.value
            if name in self.variables:
                return self.variables[name]
            default = self.defaults.get(name)
            return self._value(default) if default is not None else None
        return None
