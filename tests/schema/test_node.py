"""`node(id:)`, caller by caller: every object of every Node type in the authorisation world is
asked for by every caller, and the answer is held to the world's oracle (written apart from
the services). An object the caller may not see is null with no error, exactly like one that
does not exist; so is a malformed ID or one naming no type of ours."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from graphql import GraphQLInterfaceType

from tests.conftest import data
from tests.schema.authz_world import SENT_CATEGORY, Caller, World, build_world
from tests.schema.schema_paths import graphql_schema
from tidings.core.enums import Role
from tidings.core.ids import new_id
from tidings.core.models import AccessGrant, ApiKey, Device, PermissionEntry, Staff
from tidings.core.models.messages import Delivery, Message, Notification, Template
from tidings.core.viewer import ViewerKind
from tidings.schema.ids import to_global_id
from tidings.schema.refetch import FETCHERS

STAFF_READERS = (Role.ADMIN, Role.AUDITOR)
CHUNK = 20  # objects per request: under the alias limit


@dataclass(frozen=True)
class Target:
    """One object of the world; `label` says whose, or what is special about it."""

    type_name: str
    id: uuid.UUID
    label: str

    @property
    def global_id(self) -> str:
        return to_global_id(self.type_name, self.id)


async def targets(world: World, revoked_key: uuid.UUID) -> list[Target]:
    found: list[Target] = []

    def add(type_name: str, item: uuid.UUID, label: str) -> None:
        found.append(Target(type_name, item, label))

    for label, customer in (("target", world.target), ("other", world.other)):
        add("Customer", customer, label)
        for entry in await PermissionEntry.filter(customer_id=customer):
            add("PermissionGrant", entry.id, label)
        for device in await Device.filter(customer_id=customer):
            add("Device", device.id, label)
        notification = await Notification.create(
            customer_id=customer, delivery_id=new_id(), category=SENT_CATEGORY, title="t", body="b"
        )
        add("Notification", notification.id, label)
    archived = await Notification.create(
        customer_id=world.target,
        delivery_id=new_id(),
        category=SENT_CATEGORY,
        title="t",
        body="b",
        archived_at=datetime.now(UTC),
    )
    add("Notification", archived.id, "archived")
    for staff in await Staff.all():
        add("Staff", staff.id, "staff")
    for key in await ApiKey.all():
        add("ApiKey", key.id, "revoked" if key.id == revoked_key else "key")
    for grant in await AccessGrant.all():
        add("AccessGrant", grant.id, "grant")
    for name, message_id in world.messages.items():
        add("Message", message_id, name)
        for delivery in await Delivery.filter(message_id=message_id):
            add("Delivery", delivery.id, name)
    for template in await Template.all():
        add("Template", template.id, "template")
    return found


async def may_see(caller: Caller, target: Target) -> bool:
    """The oracle: what the type's own root field (or its parent) shows this caller."""
    kind, role = target.type_name, caller.role
    if kind in ("Customer", "PermissionGrant"):
        return caller.may_see_customer(await _customer_of(target))
    if kind == "Device":
        return caller.may_read_customer(await _customer_of(target))
    if kind == "Notification":
        row = await Notification.get(id=target.id)
        return (
            caller.kind is ViewerKind.CUSTOMER
            and row.customer_id == caller.id
            and row.archived_at is None
        )
    if kind == "Staff":
        return role in STAFF_READERS or (caller.kind is ViewerKind.STAFF and caller.id == target.id)
    if kind == "ApiKey":
        if target.label == "revoked":
            return False
        return role in STAFF_READERS or (
            caller.kind is ViewerKind.API_KEY and caller.id == target.id
        )
    if kind == "AccessGrant":
        grant = await AccessGrant.get(id=target.id)
        active = grant.revoked_at is None and (
            grant.expires_at is None or grant.expires_at > datetime.now(UTC)
        )
        if not active:
            return False
        if role in STAFF_READERS:
            return True
        return (
            role is Role.AGENT and caller.kind is ViewerKind.STAFF and grant.staff_id == caller.id
        )
    if kind in ("Message", "Delivery"):
        message_id = (
            target.id if kind == "Message" else (await Delivery.get(id=target.id)).message_id
        )
        return caller.may_see_message((await Message.get(id=message_id)).created_by)
    if kind == "Template":
        return caller.may_see_templates()
    raise AssertionError(f"no oracle for {kind}")


async def _customer_of(target: Target) -> uuid.UUID:
    if target.type_name == "Customer":
        return target.id
    if target.type_name == "PermissionGrant":
        return (await PermissionEntry.get(id=target.id)).customer_id
    return (await Device.get(id=target.id)).customer_id


def document(chunk: list[Target]) -> str:
    fields = " ".join(
        f'n{i}: node(id: "{t.global_id}") {{ __typename id }}' for i, t in enumerate(chunk)
    )
    return f"{{ {fields} }}"


async def test_node_answers_as_the_types_own_fields_do(api):
    world = await build_world(api)
    admin = world.admin_viewer
    services = api.runtime.services
    spare, _ = await services.api_keys.create(admin, "spare", Role.AUDITOR)
    await services.api_keys.revoke(admin, spare.id)
    every = await targets(world, spare.id)
    assert {t.type_name for t in every} == set(FETCHERS)
    for caller in world.callers.values():
        token = await caller.token(api)
        for start in range(0, len(every), CHUNK):
            chunk = every[start : start + CHUNK]
            answer = data(await api.gql(document(chunk), None, token))
            for i, target in enumerate(chunk):
                expected = (
                    {"__typename": target.type_name, "id": target.global_id}
                    if await may_see(caller, target)
                    else None
                )
                assert answer[f"n{i}"] == expected, (caller.name, target)


async def test_an_admin_refetches_what_a_list_gave(api):
    """The IDs a client holds come from fields: refetched, they give the same object."""
    world = await build_world(api)
    token = await world.admin.token(api)
    listed = data(
        await api.gql(
            "{ customers { nodes { id externalId } } "
            "messages { nodes { id deliveries { nodes { id status } } } } }",
            None,
            token,
        )
    )
    customer = listed["customers"]["nodes"][0]
    delivery = listed["messages"]["nodes"][0]["deliveries"]["nodes"][0]
    refetched = data(
        await api.gql(
            """query($c: ID!, $d: ID!) {
              c: node(id: $c) { id ... on Customer { externalId } }
              d: node(id: $d) { id ... on Delivery { status message { id } } }
            }""",
            {"c": customer["id"], "d": delivery["id"]},
            token,
        )
    )
    assert refetched["c"] == customer
    assert refetched["d"]["status"] == delivery["status"]
    assert refetched["d"]["message"]["id"] == listed["messages"]["nodes"][0]["id"]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_a_malformed_or_foreign_id_is_null_without_an_error(api):
    world = await build_world(api)
    token = await world.admin.token(api)
    target = str(world.target)
    ids = [
        "not base64!",
        b64("Customer:not-a-uuid"),
        b64(f"Nope:{target}"),
        b64(f"customer:{target}"),  # type names are exact
        target,  # a raw UUID names no type
        b64(f"Customer:{uuid.uuid4()}"),  # well formed, no such row
        "",
    ]
    fields = " ".join(f"n{i}: node(id: {json.dumps(v)}) {{ id }}" for i, v in enumerate(ids))
    result = await api.gql(f"{{ {fields} }}", None, token)
    assert result == {"data": {f"n{i}": None for i in range(len(ids))}}
    # The same customer under its real ID is there: the nulls above are not a broken field.
    found = data(await api.gql(document([Target("Customer", world.target, "")]), None, token))
    assert found["n0"] == {"__typename": "Customer", "id": to_global_id("Customer", world.target)}


async def test_node_needs_a_token(api):
    result = await api.gql('{ node(id: "x") { id } }')
    assert result["data"] is None or result["data"]["node"] is None
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_every_node_type_has_a_fetcher():
    """A type that implements Node without a fetcher would be null for everyone."""
    schema = graphql_schema()
    node = schema.type_map["Node"]
    assert isinstance(node, GraphQLInterfaceType)
    implementations = {t.name for t in schema.get_possible_types(node)}
    assert implementations == set(FETCHERS)
