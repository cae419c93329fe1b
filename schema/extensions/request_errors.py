"""How a request the schema cannot run is answered: a syntax error is coded
GRAPHQL_PARSE_FAILED, and where introspection is off the errors suggest no names.

graphql-core appends "Did you mean 'customers'?" to validation errors and to errors in
variables' values; the suggestions spell out the schema that disabled introspection hides.
graphql-core has the switch (`hide_suggestions`, on `validate` and on the executor) but
strawberry passes it to neither, so `HideSuggestions` validates with it, and
`SuggestionlessExecutor` (the schema's `execution_context_class`) coerces variables with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLSyntaxError, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from tidings.schema.extensions.input_values import CodedInputExecutor

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"


class ParseErrorCode(SchemaExtension):
    """Code syntax errors, as Apollo Server does, so clients can tell them from the rest.
    One already coded (the token limit's QUERY_LIMIT) keeps its code."""

    def on_parse(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or []:
            if isinstance(error, GraphQLSyntaxError) and not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": PARSE_FAILED}


class HideSuggestions(SchemaExtension):
    """Validate with graphql-core's `hide_suggestions`. Listed after every extension that
    adds or swaps validation rules, it runs the same rules strawberry would (its own two
    included); strawberry then skips validating, as for a document validated before."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            rules = (*context.validation_rules, MaybeNullValidationRule, OneOfInputValidationRule)
            context.pre_execution_errors = validate(
                context.schema._schema, document, rules, hide_suggestions=True
            )
        yield


class SuggestionlessExecutor(CodedInputExecutor):
    """Our executor (variables' errors coded), coercing variables with `hide_suggestions` (a
    misspelt enum value or input field in the variables would otherwise be answered with the
    right one)."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        kwargs["hide_suggestions"] = True
        return super().build(*args, **kwargs)
