"""A value that does not fit its input type is BAD_USER_INPUT naming the field at fault,
written in the document or sent in `variables`, in development and production alike: an
impossible DateTime, an ID that is a float, a misspelt enum value; and a scalar that raises
a plain exception is no longer "Unexpected error."."""

from __future__ import annotations

import logging
from typing import NewType

import pytest
import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig

from tests.schema.test_query_limits import client_with
from tidings.core.enums import Role
from tidings.schema.extensions.input_values import CodedInputExecutor, CodedInputValues
from tidings.schema.extensions.safe_errors import MaskUnexpectedErrors

GRANT = 'customerId: "Q3VzdG9tZXI6eA", channel: "email", category: "news", source: "form"'
GRANT_INPUT = {
    "customerId": "Q3VzdG9tZXI6eA",
    "channel": "email",
    "category": "news",
    "source": "f",
}
SEND = 'idempotencyKey: "k-1", category: "news", to: {customerIds: ["Q3VzdG9tZXI6eA"]}'
SEND_INPUT = {"idempotencyKey": "k-1", "category": "news", "to": {"customerIds": ["x"]}}
BAD_DATES = ["not-a-date", "2030-02-30", "2030-01-01T25:00"]

# (document, variables, the field the error names)
CASES = [
    *(
        pytest.param(
            f'mutation {{ grantPermission(input: {{{GRANT}, expiresAt: "{bad}"}}) '
            "{ errors { code } } }",
            None,
            "expiresAt",
            id=f"grant-literal-{bad}",
        )
        for bad in BAD_DATES
    ),
    pytest.param(
        "mutation($e: DateTime) { grantPermission(input: {" + GRANT + ", expiresAt: $e}) "
        "{ errors { code } } }",
        {"e": "2030-02-30"},
        "expiresAt",
        id="grant-variable",
    ),
    pytest.param(
        "mutation($i: GrantPermissionInput!) { grantPermission(input: $i) { errors { code } } }",
        {"i": {**GRANT_INPUT, "expiresAt": "2030-01-01T25:00"}},
        "expiresAt",
        id="grant-input-variable",
    ),
    pytest.param(
        f'mutation {{ send(input: {{{SEND}, scheduleAt: "not-a-date"}}) {{ errors {{ code }} }} }}',
        None,
        "scheduleAt",
        id="send-literal",
    ),
    pytest.param(
        "mutation($i: SendInput!) { send(input: $i) { errors { code } } }",
        {"i": {**SEND_INPUT, "scheduleAt": "2030-02-30"}},
        "scheduleAt",
        id="send-input-variable",
    ),
    pytest.param(
        "mutation($s: DateTime) { send(input: {" + SEND + ", scheduleAt: $s}) "
        "{ errors { code } } }",
        {"s": 20300101},
        "scheduleAt",
        id="send-number-variable",
    ),
    pytest.param("{ node(id: 5.5) { id } }", None, "id", id="id-literal"),
    pytest.param("query($i: ID!) { node(id: $i) { id } }", {"i": 5.5}, "id", id="id-variable"),
    pytest.param(
        "{ customers(tier: HIGH_VALU) { nodes { id } } }", None, "tier", id="enum-literal"
    ),
    pytest.param(
        # Two operations use `$i`; the one run gives it to scheduleAt.
        "query Find($i: ID!) { node(id: $i) { id } } "
        "mutation Send($i: DateTime) { send(input: {" + SEND + ", scheduleAt: $i}) "
        "{ errors { code } } }",
        {"i": "2030-02-30"},
        "scheduleAt",
        id="variable-of-the-operation-run",
    ),
]


def name(query: str) -> str | None:
    """The last operation's name, when the document holds several."""
    return query.rsplit("mutation ", 1)[1].split("(")[0] if "query Find" in query else None


@pytest.mark.parametrize(("query", "variables", "field"), CASES)
@pytest.mark.parametrize("env", ["development", "production"])
async def test_a_value_that_does_not_fit_is_bad_user_input_naming_the_field(
    db, api, caplog, env, query, variables, field
):
    caplog.set_level(logging.DEBUG)
    _, token = await api.staff(Role.ADMIN)
    async with client_with(db, TIDINGS_ENV=env) as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}, "operationName": name(query)},
            headers={"Authorization": f"Bearer {token}"},
        )
    result = response.json()
    assert result["data"] is None, result
    [error] = result["errors"]
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "reason": "INVALID_VALUE",
        "field": field,
    }
    assert error["message"] != "Unexpected error."
    assert error.get("locations"), error  # the client is shown where
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def reject(value: object) -> object:
    raise ValueError("no such colour")  # a plain exception, not graphql-core's own error


Colour = NewType("Colour", str)


@strawberry.type
class ColourQuery:
    @strawberry.field
    def paint(self, colour: Colour) -> str:
        return "painted"


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ('{ paint(colour: "mauve") }', None),
        ("query($c: Colour!) { paint(colour: $c) }", {"c": "mauve"}),
    ],
    ids=["literal", "variable"],
)
async def test_a_scalar_raising_a_plain_exception_is_not_masked(query, variables):
    """graphql-core keeps such an exception as the error's cause, which masking hid as
    "Unexpected error." with no code."""
    schema = strawberry.Schema(
        query=ColourQuery,
        extensions=[CodedInputValues, MaskUnexpectedErrors],
        execution_context_class=CodedInputExecutor,
        config=StrawberryConfig(
            scalar_map={Colour: strawberry.scalar(name="Colour", parse_value=reject, serialize=str)}
        ),
    )
    result = await schema.execute(query, variable_values=variables)
    [error] = result.errors or []
    assert isinstance(error, GraphQLError)
    assert error.extensions == {
        "code": "BAD_USER_INPUT",
        "reason": "INVALID_VALUE",
        "field": "colour",
    }
    assert "no such colour" in error.message
