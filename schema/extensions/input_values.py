"""A value that does not fit its input type (a DateTime that is no date, an ID that is a
float, a misspelt enum value) is answered as `BAD_USER_INPUT`, naming the field at fault.

graphql-core refuses such values in two places, and codes neither: validation, for values
written in the document (`expiresAt: "2030-02-30"`), and variable coercion, for values
sent in `variables`. Its errors name the field only in prose, or not at all (a scalar's own
error, re-reported as it is); one from a scalar that raises a plain exception reached clients
as "Unexpected error.". Here the literal check is graphql-core's own rule reporting through
a coded error, and variable errors are re-derived with their paths when the executor
cannot be built. `extensions.field` is the innermost input field or argument named at the
fault (`expiresAt`, `id`); for a whole variable, where the document uses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    Node,
    ObjectFieldNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    visit,
)
from graphql.language import SKIP, VisitorAction
from graphql.pyutils import print_path_list
from graphql.type import GraphQLInputType
from graphql.utilities import type_from_ast
from graphql.utilities.validate_input_value import validate_input_literal, validate_input_value
from graphql.validation import ValidationContext, ValuesOfCorrectTypeRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

REASON = "INVALID_VALUE"
MAX_ERRORS = 50  # graphql-core's own bound on variable coercion errors


def bad_input(message: str, nodes: Any, field: str | None) -> GraphQLError:
    """Coded like the domain's input errors (`code`, `reason`, `field`); the message is
    graphql-core's, which quotes only the caller's input."""
    return GraphQLError(
        message, nodes, extensions={"code": "BAD_USER_INPUT", "reason": REASON, "field": field}
    )


def field_at(path: list[str | int], fallback: str | None) -> str | None:
    """The innermost input field on `path` (list indexes skipped), else `fallback`."""
    return next((step for step in reversed(path) if isinstance(step, str)), fallback)


class CodedValuesOfCorrectType(ValuesOfCorrectTypeRule):
    """graphql-core's check of the values written in the document, reporting coded errors
    that keep the path graphql-core computes (and drops) for them."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.names: list[str] = []  # the argument (or variable's default) being checked

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
        self.names.append(node.name.value)

    def leave_argument(self, *_args: Any) -> None:
        self.names.pop()

    def enter_variable_definition(self, node: VariableDefinitionNode, *_args: Any) -> None:
        self.names.append("$" + node.variable.name.value)

    def leave_variable_definition(self, *_args: Any) -> None:
        self.names.pop()

    def is_valid_value_node(
        self, node: ValueNode, input_type: GraphQLInputType | None
    ) -> VisitorAction:
        if input_type:
            name = self.names[-1] if self.names else None

            def on_error(error: GraphQLError, path: list[str | int]) -> None:
                self.report_error(
                    bad_input(error.message, error.nodes or [node], field_at(path, name))
                )

            validate_input_literal(
                node, input_type, on_error, None, None, self.context.hide_suggestions
            )
        return SKIP


class CodedInputValues(SchemaExtension):
    """Validate document literals with `CodedValuesOfCorrectType`. Listed before any
    extension that validates by itself (HideSuggestions), which runs the rules set here."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = tuple(
            CodedValuesOfCorrectType if rule is ValuesOfCorrectTypeRule else rule
            for rule in context.validation_rules
        )
        yield


class VariableUsages(Visitor):
    """Where each variable is first used: the argument or input field it is given to."""

    def __init__(self) -> None:
        super().__init__()
        self.names: dict[str, str] = {}

    def enter_variable(
        self, node: VariableNode, _key: Any, parent: Any, _path: Any, ancestors: list[Any]
    ) -> None:
        for ancestor in reversed([*ancestors, parent]):
            if isinstance(ancestor, ArgumentNode | ObjectFieldNode):
                self.names.setdefault(node.name.value, ancestor.name.value)
                return


def coded_variable_errors(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: dict[str, Any],
    errors: list[GraphQLError],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    """`errors` from coercing `variables`, each about a variable coded BAD_USER_INPUT; one
    about a value sent is derived again, with the path to the field at fault."""
    usages = VariableUsages()
    for definition in document.definitions:  # the operation run (whose variables these are)
        variables_defined = getattr(definition, "variable_definitions", None) or ()
        if isinstance(definition, FragmentDefinitionNode) or any(
            _definition(error.nodes) in variables_defined for error in errors
        ):
            visit(definition, usages)
    coded: list[GraphQLError] = []
    derived: set[str] = set()
    for error in errors:
        definition = _definition(error.nodes)
        if definition is None:
            coded.append(error)
            continue
        name = definition.variable.name.value
        used_at = usages.names.get(name)
        var_type = type_from_ast(schema, definition.type)
        if error.original_error is None or name not in variables or var_type is None:
            coded.append(bad_input(error.message, error.nodes, used_at))
            continue
        if name in derived:
            continue
        derived.add(name)

        def on_error(
            inner: GraphQLError,
            path: list[str | int],
            name: str = name,
            definition: VariableDefinitionNode = definition,
            used_at: str | None = used_at,
        ) -> None:
            message = f"Variable '${name}' has invalid value{print_path_list(path)}: "
            coded.append(bad_input(message + inner.message, definition, field_at(path, used_at)))

        validate_input_value(variables[name], var_type, on_error, hide_suggestions)  # type: ignore[arg-type]
    return coded[:MAX_ERRORS]


def _definition(nodes: list[Node] | None) -> VariableDefinitionNode | None:
    node = nodes[0] if nodes else None
    return node if isinstance(node, VariableDefinitionNode) else None


class CodedInputExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor; when the variables do not fit, their errors come back coded."""

    @classmethod
    def build(  # type: ignore[override]
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        context_value: Any = None,
        raw_variable_values: dict[str, Any] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        built = super().build(
            schema, document, root_value, context_value, raw_variable_values, *args, **kwargs
        )
        if not isinstance(built, list):
            return built
        hide = bool(kwargs.get("hide_suggestions", False))
        return coded_variable_errors(schema, document, raw_variable_values or {}, built, hide)
