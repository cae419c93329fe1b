"""Every element of the public schema says what it is: GraphiQL's documentation pane is the
reference most API users read, so a type, field, argument, input field or enum value without a
description is a hole in it. The walk goes over the schema strawberry builds, so a new element
cannot slip past; graphql's own introspection types (`__*`) and built-in scalars are exempt."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    specified_scalar_types,
)

from tests.schema.schema_paths import graphql_schema


def _described(text: str | None) -> bool:
    return bool(text and text.strip())


def undescribed(schema: GraphQLSchema) -> list[str]:
    """The path of every element of ours that has no description, e.g. `Customer.devices`,
    `Query.customers(first)`, `Tier.HIGH_VALUE`."""
    missing: list[str] = []
    for name, named in sorted(schema.type_map.items()):
        if name.startswith("__") or name in specified_scalar_types:
            continue
        if not _described(named.description):
            missing.append(name)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                if not _described(field.description):
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in field.args.items():
                    if not _described(arg.description):
                        missing.append(f"{name}.{field_name}({arg_name})")
        elif isinstance(named, GraphQLInputObjectType):
            for field_name, input_field in named.fields.items():
                if not _described(input_field.description):
                    missing.append(f"{name}.{field_name}")
        elif isinstance(named, GraphQLEnumType):
            for value_name, value in named.values.items():
                if not _described(value.description):
                    missing.append(f"{name}.{value_name}")
        elif isinstance(named, GraphQLUnionType):
            pass  # the union's own description is checked above
    return missing


def test_every_schema_element_has_a_description() -> None:
    missing = undescribed(graphql_schema())
    assert not missing, f"{len(missing)} schema elements have no description:\n  " + "\n  ".join(
        missing
    )


def test_the_walk_sees_each_kind_of_element() -> None:
    """The checker itself: a field, an argument, an input field and an enum value stripped of
    their descriptions are each reported."""
    schema = graphql_schema()
    query = schema.type_map["Query"]
    tier = schema.type_map["Tier"]
    send_input = schema.type_map["SendInput"]
    assert isinstance(query, GraphQLObjectType)
    assert isinstance(tier, GraphQLEnumType)
    assert isinstance(send_input, GraphQLInputObjectType)
    saved = (
        query.fields["customers"].description,
        query.fields["customers"].args["first"].description,
        send_input.fields["category"].description,
        tier.values["HIGH_VALUE"].description,
        tier.description,
    )
    try:
        query.fields["customers"].description = None
        query.fields["customers"].args["first"].description = ""
        send_input.fields["category"].description = None
        tier.values["HIGH_VALUE"].description = None
        tier.description = "  "
        missing = set(undescribed(schema))
    finally:
        (
            query.fields["customers"].description,
            query.fields["customers"].args["first"].description,
            send_input.fields["category"].description,
            tier.values["HIGH_VALUE"].description,
            tier.description,
        ) = saved
    expected = {
        "Query.customers",
        "Query.customers(first)",
        "SendInput.category",
        "Tier.HIGH_VALUE",
        "Tier",
    }
    assert expected <= missing
