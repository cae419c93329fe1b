"""Walk the schema for every path from a root field to a type holding a protected field, and
render each path as GraphQL documents of several shapes (plain, aliased, fragments, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from graphql import (
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_abstract_type,
    is_object_type,
)
from strawberry.permission import BasePermission, PermissionExtension

from tidings.schema import build_schema
from tidings.schema.permissions import PROTECTED_FIELD_GATES

MAX_DEPTH = 8
SHAPES = ("plain", "aliased", "fragment", "inline", "nested", "twice")


@cache
def graphql_schema() -> GraphQLSchema:
    return build_schema()._schema


@dataclass(frozen=True)
class Gate:
    """A protected field's gate; `silent`: refused callers get null/[] and no error."""

    permission: type[BasePermission]
    silent: bool


def field_gate(type_name: str, field_name: str) -> Gate | None:
    """The protected-field gate on a field, from its strawberry definition."""
    field = graphql_schema().type_map[type_name].fields[field_name]  # type: ignore[union-attr]
    definition = field.extensions.get("strawberry-definition")
    if definition is None:
        return None
    found: list[Gate] = [
        Gate(cls, False) for cls in definition.permission_classes if cls in PROTECTED_FIELD_GATES
    ]
    for extension in definition.extensions:
        if isinstance(extension, PermissionExtension):
            found += [
                Gate(type(p), extension.fail_silently)
                for p in extension.permissions
                if type(p) in PROTECTED_FIELD_GATES
            ]
    if not found:
        return None
    # permission_classes become a PermissionExtension too: the same gate, seen twice.
    return Gate(found[0].permission, any(g.silent for g in found))


def protected_fields(type_name: str) -> dict[str, Gate]:
    gql_type = graphql_schema().type_map[type_name]
    assert isinstance(gql_type, GraphQLObjectType)
    gates = {name: field_gate(type_name, name) for name in gql_type.fields}
    return {name: gate for name, gate in gates.items() if gate is not None}


@dataclass(frozen=True)
class Step:
    field: str
    cond: str | None  # the concrete type chosen where the field's type is a union/interface
    inner: str  # the object type selected inside this field


@dataclass(frozen=True)
class ProtectedPath:
    root: str  # "Query" or "Mutation"
    steps: tuple[Step, ...]

    @property
    def target(self) -> str:
        return self.steps[-1].inner

    @property
    def root_field(self) -> str:
        return self.steps[0].field

    @property
    def id(self) -> str:
        parts = [s.field + (f"<{s.cond}>" if s.cond else "") for s in self.steps]
        return f"{self.root}.{'.'.join(parts)}"


def _walk(type_name: str, steps: tuple[Step, ...], seen: frozenset[str], root: str):
    if steps and protected_fields(type_name):
        yield ProtectedPath(root, steps)
    if len(steps) >= MAX_DEPTH:
        return
    gql_type = graphql_schema().type_map[type_name]
    assert isinstance(gql_type, GraphQLObjectType)
    for name, field in gql_type.fields.items():
        named = get_named_type(field.type)
        if is_abstract_type(named):
            options = [(t.name, t.name) for t in graphql_schema().get_possible_types(named)]
        elif is_object_type(named):
            options = [(None, named.name)]
        else:
            continue
        if steps:  # below the root we cannot invent arguments
            required = [
                a
                for a, arg in field.args.items()
                if isinstance(arg.type, GraphQLNonNull) and arg.default_value is None
            ]
            assert not required, f"{type_name}.{name} needs arguments {required}"
        for cond, inner in options:
            if inner in seen:
                continue
            yield from _walk(inner, (*steps, Step(name, cond, inner)), seen | {inner}, root)


@cache
def protected_paths() -> tuple[ProtectedPath, ...]:
    return tuple(
        path for root in ("Query", "Mutation") for path in _walk(root, (), frozenset({root}), root)
    )


@dataclass
class Document:
    text: str
    keys: list[str]  # the response key of each step
    typename_key: str
    id_key: str
    fields: list[tuple[str, str]]  # (protected field, response key)


def render(path: ProtectedPath, shape: str, args: str) -> Document:
    """A document reaching `path`'s protected fields, in the given shape."""
    assert shape in SHAPES
    aliased = shape == "aliased"
    fragments: list[str] = []
    target_type = graphql_schema().type_map[path.target]
    assert isinstance(target_type, GraphQLObjectType)
    typename_key, id_key = ("tt", "tid") if aliased else ("__typename", "id")
    parts = [f"{typename_key}: __typename" if aliased else "__typename"]
    parts.append(f"{id_key}: id" if aliased else "id")
    fields: list[tuple[str, str]] = []
    for name in protected_fields(path.target):
        named = get_named_type(target_type.fields[name].type)
        sub = " { id __typename }" if is_object_type(named) else ""
        key = f"t{name}" if aliased else name
        parts.append(f"{key}: {name}{sub}" if aliased else f"{name}{sub}")
        fields.append((name, key))
        if shape == "twice":
            parts.append(f"again{name}: {name}{sub}")
            fields.append((name, f"again{name}"))
    body = " ".join(parts)
    if shape in ("fragment", "twice"):
        fragments.append(f"fragment TargetFields on {path.target} {{ {body} }}")
        body = "...TargetFields" + (f" {body}" if shape == "twice" else "")

    keys: list[str] = []
    inner = body
    for i in reversed(range(len(path.steps))):
        step = path.steps[i]
        if step.cond:
            inner = f"... on {step.cond} {{ {inner} }}"
        elif shape == "inline":
            inner = f"... on {step.inner} {{ {inner} }}"
        if shape == "nested":
            fragments.append(f"fragment L{i + 1} on {step.inner} {{ {inner} }}")
            inner = f"...L{i + 1}"
        key = f"a{i}{step.field}" if aliased else step.field
        keys.insert(0, key)
        alias = f"{key}: " if aliased else ""
        inner = f"{alias}{step.field}{args if i == 0 else ''} {{ {inner} }}"
    if shape == "inline":
        inner = f"... on {path.root} {{ {inner} }}"
    if shape == "nested":
        fragments.append(f"fragment L0 on {path.root} {{ {inner} }}")
        inner = "...L0"
    operation = "query" if path.root == "Query" else "mutation"
    text = "\n".join([f"{operation} Probe {{ {inner} }}", *reversed(fragments)])
    return Document(text, keys, typename_key, id_key, fields)


def literal(value: object) -> str:
    """A Python value as a GraphQL literal; `Enum("X")` for enum values."""
    if isinstance(value, Enum):
        return value.name
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        import json

        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


@dataclass(frozen=True)
class Enum:
    name: str


def arguments(values: dict[str, object] | None) -> str:
    if not values:
        return ""
    return "(" + ", ".join(f"{k}: {literal(v)}" for k, v in values.items()) + ")"
