"""Errors stay local: a root field that is refused or fails is null with its error, and the
fields beside it keep their data. A non-null root field would instead null the whole `data`,
losing, for example, the id of a message that was really sent."""

from __future__ import annotations

from graphql import GraphQLNonNull, GraphQLObjectType

from tests.conftest import data
from tidings.core.enums import Role
from tidings.core.models import Message
from tidings.schema import build_schema
from tidings.schema.ids import from_global_id

CATEGORY = (
    'mutation { createCategory(input: {key: "orders", name: "Orders", kind: TRANSACTIONAL, '
    'defaultChannels: ["in_app"]}) { errors { code } } }'
)
CUSTOMER = 'mutation { createCustomer(input: {externalId: "c-1"}) { customer { id } } }'


async def a_customer(api) -> tuple[str, str]:
    """An ADMIN token and a customer's global id, with a category to send in."""
    _, admin = await api.staff(Role.ADMIN)
    assert data(await api.gql(CATEGORY, None, admin))["createCategory"]["errors"] == []
    created = data(await api.gql(CUSTOMER, None, admin))["createCustomer"]
    return admin, created["customer"]["id"]


def only_error_at(result: dict, key: str, code: str) -> None:
    assert [e["path"] for e in result["errors"]] == [[key]], result
    assert result["errors"][0]["extensions"]["code"] == code, result


async def test_a_refused_mutation_beside_a_send_keeps_the_message_id(api):
    _, customer = await a_customer(api)
    _, marketer = await api.staff(Role.MARKETER)
    result = await api.gql(
        "mutation($c: ID!) { "
        's: send(input: {idempotencyKey: "local-1", category: "orders", to: {customerId: $c}, '
        'content: {title: "Shipped", body: "On its way"}}) { message { id } errors { code } } '
        "t: issueCustomerToken(customerId: $c) { token errors { code } } }",
        {"c": customer},
        marketer,
    )
    only_error_at(result, "t", "FORBIDDEN")
    assert result["data"]["t"] is None
    sent = result["data"]["s"]
    assert sent["errors"] == []
    assert await Message.exists(id=from_global_id(sent["message"]["id"], "Message"))


async def test_an_explanation_that_fails_leaves_its_siblings(api):
    admin, customer = await a_customer(api)
    result = await api.gql(
        "query($c: ID!) { "
        'known: explainDelivery(customerId: $c, category: "orders", channel: "in_app") '
        "{ status } "
        'unknown: explainDelivery(customerId: $c, category: "no-such", channel: "in_app") '
        "{ status } }",
        {"c": customer},
        admin,
    )
    only_error_at(result, "unknown", "BAD_USER_INPUT")
    assert result["data"]["unknown"] is None
    assert result["data"]["known"]["status"] == "QUEUED"


async def test_a_forbidden_query_leaves_its_siblings(api):
    _, marketer = await api.staff(Role.MARKETER)
    result = await api.gql(
        "{ categories { key } staffMembers { edges { cursor } } }", None, marketer
    )
    only_error_at(result, "staffMembers", "FORBIDDEN")
    assert result["data"] == {"categories": [], "staffMembers": None}


def test_every_query_and_mutation_root_field_is_nullable():
    """Any root field may be refused (UNAUTHENTICATED, FORBIDDEN) or fail (bad input, an
    unexpected error): each must be able to be null on its own."""
    schema = build_schema()._schema
    roots: list[GraphQLObjectType] = [schema.query_type, schema.mutation_type]
    non_null = [
        f"{root.name}.{name}"
        for root in roots
        for name, field in root.fields.items()
        if isinstance(field.type, GraphQLNonNull)
    ]
    assert not non_null, f"root fields that would null their siblings: {non_null}"
