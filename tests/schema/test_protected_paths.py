"""Every path the schema offers to a protected field, in several document shapes, for every
kind of caller: refused callers get null + FORBIDDEN at that field (or do not reach the
object at all), never the value; allowed callers get the real value.

The paths are derived from the schema (`schema_paths.protected_paths`), so a new field,
type or operation leading to personal data is covered as soon as it exists. Mutation paths
covered, with inputs that return the object: createStaff, updateStaff (a scratch member, no
changes), grantAccess and revokeAccessGrant (a scratch agent), createCustomer,
updateCustomer and updateMe (no changes), revokeCustomerTokens, disableCustomer (a
scratch customer), enableCustomer (the target, already enabled: no change), grantPermission, withdrawPermission, send
(to the target, with content of its own) and retryDelivery (the world's delivery the mail
server refused, failed again by the worker between calls).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import pytest

from tests.conftest import PASSWORD
from tests.schema.authz_world import (
    EVIDENCE_AGENT,
    EVIDENCE_IP,
    SENT_CATEGORY,
    Caller,
    World,
    build_world,
    failed_delivery,
)
from tests.schema.schema_paths import (
    SHAPES,
    Document,
    Enum,
    ProtectedPath,
    arguments,
    protected_fields,
    protected_paths,
    render,
)
from tidings.core.models import AccessGrant, Customer, Device, PermissionEntry, Staff
from tidings.core.models.messages import Delivery, DeliveryEvent, Message, Template
from tidings.schema.ids import from_global_id, to_global_id

ArgsFor = Callable[[World], Awaitable[dict[str, object] | None]]


def _fixed(make: Callable[[World], dict[str, object] | None]) -> ArgsFor:
    async def args(world: World) -> dict[str, object] | None:
        return make(world)

    return args


async def _revocable_grant(world: World) -> dict[str, object]:
    grant = await AccessGrant.create(
        staff_id=world.scratch_agent, customer_id=world.target, actions=["REPLY"], created_by="t"
    )
    return {"id": to_global_id("AccessGrant", grant.id)}


def _fresh() -> str:
    return secrets.token_hex(4)


async def _failed_delivery(world: World) -> dict[str, object]:
    return {"id": to_global_id("Delivery", await failed_delivery(world))}


async def _scratch_customer(world: World) -> dict[str, object]:
    """A customer of its own to disable: disabling the target would end CUSTOMER_SELF."""
    row = await Customer.create(
        external_id=f"scratch-{_fresh()}",
        email=f"scratch.{_fresh()}@example.org",
        phone=f"+1415556{secrets.randbelow(10000):04d}",
    )
    return {"customerId": to_global_id("Customer", row.id)}


def _send_input(world: World) -> dict[str, object]:
    mark = _fresh()
    return {
        "input": {
            "idempotencyKey": f"probe-{mark}",
            "category": SENT_CATEGORY,
            "to": {"customerId": to_global_id("Customer", world.target)},
            "channels": ["email"],
            "content": {"title": f"Probe title {mark}", "body": f"Probe body {mark}"},
        }
    }


# Arguments for every root field that leads to a protected field. A new root field fails
# `test_every_root_field_has_arguments` until someone decides how to reach it here.
ROOT_ARGS: dict[str, ArgsFor] = {
    "me": _fixed(lambda w: None),
    "staff": _fixed(lambda w: {"id": to_global_id("Staff", w.staff_ids["AGENT_READ"])}),
    "staffMembers": _fixed(lambda w: None),
    "accessGrants": _fixed(lambda w: None),
    "customer": _fixed(lambda w: {"id": to_global_id("Customer", w.target)}),
    "customers": _fixed(lambda w: None),
    "createStaff": _fixed(
        lambda w: {
            "input": {
                "email": f"new.{_fresh()}@corp.example",
                "password": PASSWORD,
                "role": Enum("AGENT"),
            }
        }
    ),
    "updateStaff": _fixed(lambda w: {"input": {"id": to_global_id("Staff", w.scratch_agent)}}),
    "grantAccess": _fixed(
        lambda w: {
            "input": {
                "staffId": to_global_id("Staff", w.scratch_agent),
                "customerId": to_global_id("Customer", w.target),
                "actions": [Enum("REPLY")],
            }
        }
    ),
    "revokeAccessGrant": _revocable_grant,
    "createCustomer": _fixed(
        lambda w: {
            "input": {
                "externalId": f"ext-{_fresh()}",
                "email": f"created.{_fresh()}@example.org",
                "phone": f"+1415555{secrets.randbelow(10000):04d}",
            }
        }
    ),
    "updateCustomer": _fixed(lambda w: {"input": {"id": to_global_id("Customer", w.target)}}),
    "updateMe": _fixed(lambda w: {"input": {}}),
    "revokeCustomerTokens": _fixed(lambda w: {"customerId": to_global_id("Customer", w.target)}),
    "grantPermission": _fixed(
        lambda w: {
            "input": {
                "customerId": to_global_id("Customer", w.target),
                "channel": "email",
                "category": "news",
                "source": "api",
                "evidence": {"ip": EVIDENCE_IP, "userAgent": EVIDENCE_AGENT},
            }
        }
    ),
    "withdrawPermission": _fixed(
        lambda w: {
            "input": {
                "customerId": to_global_id("Customer", w.target),
                "channel": "sms",
                "category": "news",
                "source": "api",
            }
        }
    ),
    "message": _fixed(lambda w: {"id": to_global_id("Message", w.messages["broadcast"])}),
    "templates": _fixed(lambda w: None),
    "setTemplate": _fixed(
        lambda w: {
            "input": {
                "category": SENT_CATEGORY,
                "channel": "email",
                "locale": "en",
                "title": f"Saved title {_fresh()}",
                "body": f"Saved body {_fresh()}",
            }
        }
    ),
    "messages": _fixed(lambda w: None),
    "failedDeliveries": _fixed(lambda w: None),
    "send": _fixed(_send_input),
    "retryDelivery": _failed_delivery,
    "disableCustomer": _scratch_customer,
    # Enabling an enabled customer changes nothing: the target itself, as it is.
    "enableCustomer": _fixed(lambda w: {"customerId": to_global_id("Customer", w.target)}),
}


async def _node_id(type_name: str, world: World) -> str:
    """An object of each type `node(id:)` leads to protected fields through."""
    if type_name == "Customer":
        return to_global_id("Customer", world.target)
    if type_name == "PermissionGrant":
        entry = await PermissionEntry.filter(customer_id=world.target).order_by("id").first()
        assert entry is not None
        return to_global_id("PermissionGrant", entry.id)
    if type_name == "Staff":
        return to_global_id("Staff", world.staff_ids["AGENT_READ"])
    if type_name == "AccessGrant":
        grant = await AccessGrant.get(staff_id=world.staff_ids["AGENT_READ"])
        return to_global_id("AccessGrant", grant.id)
    if type_name == "Message":
        return to_global_id("Message", world.messages["broadcast"])
    if type_name == "Delivery":
        return to_global_id("Delivery", await failed_delivery(world))
    assert type_name == "Template", type_name
    template = await Template.all().first()
    assert template is not None
    return to_global_id("Template", template.id)


async def root_args(path: ProtectedPath, world: World) -> dict[str, object] | None:
    """The root field's arguments: `node(id:)` is given an object of the type the path
    takes through it."""
    if path.root_field == "node":
        cond = path.steps[0].cond
        assert cond is not None, path.id
        return {"id": await _node_id(cond, world)}
    return await ROOT_ARGS[path.root_field](world)


# Roots through which a caller who may not read the data still reaches the object: these
# paths must show at least one refusal, or the test would prove nothing about them.
NON_READERS_REACH = {
    "staff",
    "staffMembers",
    "accessGrants",
    "customer",
    "customers",
    "withdrawPermission",
    "message",
    "messages",
    "failedDeliveries",
    "node",
}

# A customer created a moment ago has no consent history yet: nobody reads one there.
NOTHING_TO_READ = {
    "Mutation.createCustomer.customer.permissionGrants",
    "Mutation.createCustomer.customer.permissionHistory.edges.node",
    "Mutation.createCustomer.customer.permissionHistory.nodes",
    "Mutation.disableCustomer.customer.permissionGrants",
    "Mutation.disableCustomer.customer.permissionHistory.edges.node",
    "Mutation.disableCustomer.customer.permissionHistory.nodes",
    # A message just sent: no provider has reported anything about its deliveries yet.
    "Mutation.send.message.deliveries.edges.node.events",
    "Mutation.send.message.deliveries.nodes.events",
}

PATHS = protected_paths()

# The probes select every protected field, some twice, at every depth with the default page
# sizes (20 messages × 50 deliveries × ...): up to 64,061 by the query cost, over its limit.
# What they test is who sees what, so their app allows more.
APP_SETTINGS = {"TIDINGS_MAX_QUERY_COST": "1000000"}


def test_paths_were_found():
    ids = {p.id for p in PATHS}
    assert "Query.customer" in ids
    assert "Query.me<Customer>" in ids
    assert "Query.customers.edges.node.permissionHistory.edges.node" in ids
    assert "Mutation.grantPermission.grant" in ids
    assert "Query.accessGrants.nodes.staff" in ids
    assert "Query.messages.edges.node" in ids
    assert "Query.failedDeliveries.nodes.customer" in ids
    assert "Mutation.send.message.deliveries.edges.node.customer" in ids


def test_suppressions_lead_to_no_protected_field():
    """A suppression keeps only a hash of the address and names its delivery by ID, so
    neither root reaches personal data or a provider's error (were a field added that does,
    its paths would appear here and need ROOT_ARGS)."""
    assert not {p.root_field for p in PATHS} & {"suppressions", "liftSuppression"}


def test_stats_lead_to_no_protected_field():
    """The analytics rows hold counts, never a customer's data: no protected field is
    reachable from them (were one added, its paths would appear here and need ROOT_ARGS)."""
    assert not {p.root_field for p in PATHS} & {"deliveryStats", "consentStats"}


def test_every_root_field_has_arguments():
    assert {p.root_field for p in PATHS} == {*ROOT_ARGS, "node"}


async def forbidden_literals(world: World, caller: Caller) -> set[str]:
    """Strings that must never appear in a response to `caller`."""
    found: set[str] = set(world.api_key_secrets)
    found |= {row.token for row in await Device.all()}
    for row in await Customer.all():
        if not caller.may_read_customer(row.id):
            found |= {v for v in (row.email, row.phone) if v}
    for entry in await PermissionEntry.all():
        if not caller.may_read_customer(entry.customer_id):
            found.add(entry.recorded_by)
            found |= {v for v in (entry.evidence or {}).values() if isinstance(v, str)}
    for staff in await Staff.all():
        if not caller.may_read_staff_email(staff.id):
            found.add(staff.email)
    creators: dict[uuid.UUID, str] = {}
    for message in await Message.all():
        creators[message.id] = message.created_by
        if not caller.may_read_message_content(message.created_by):
            found |= {v for v in (message.title, message.body) if v}
    if not caller.may_read_template_content():
        for template in await Template.all():
            found |= {v for v in (template.title, template.body, template.html) if v}
    for delivery in await Delivery.filter(last_error__isnull=False):
        if not caller.may_read_delivery_error(creators[delivery.message_id]):
            found.add(delivery.last_error)
    for event in await DeliveryEvent.filter(detail__isnull=False):
        delivery = await Delivery.get(id=event.delivery_id)  # type: ignore[attr-defined]
        if not caller.may_read_delivery_error(creators[delivery.message_id]):
            found.add(event.detail)
    return {s for s in found if len(s) >= 8}


async def judge(
    type_name: str, object_id: str, caller: Caller
) -> tuple[bool, bool, dict[str, Any]]:
    """Whether `caller` may see an object and read its protected fields, and their real
    values."""
    if type_name == "Customer":
        cid = from_global_id(object_id, "Customer")
        row = await Customer.get(id=cid)
        devices = await Device.filter(customer_id=cid).order_by("id")
        ids = [{"id": to_global_id("Device", d.id), "__typename": "Device"} for d in devices]
        link = PreferenceLinkTo(cid, row.token_version)
        real = {"email": row.email, "phone": row.phone, "devices": ids, "preferenceLink": link}
        return caller.may_see_customer(cid), caller.may_read_customer(cid), real
    if type_name == "PermissionGrant":
        entry = await PermissionEntry.get(id=from_global_id(object_id, "PermissionGrant"))
        real = {"evidence": entry.evidence, "recordedBy": entry.recorded_by}
        owner = entry.customer_id
        return caller.may_see_customer(owner), caller.may_read_customer(owner), real
    if type_name == "Message":
        message = await Message.get(id=from_global_id(object_id, "Message"))
        creator = message.created_by
        real = {"title": message.title, "body": message.body}
        return caller.may_see_message(creator), caller.may_read_message_content(creator), real
    if type_name == "Delivery":
        delivery = await Delivery.get(id=from_global_id(object_id, "Delivery"))
        creator = (await Message.get(id=delivery.message_id)).created_by
        real = {"lastError": delivery.last_error}
        return caller.may_see_message(creator), caller.may_read_delivery_error(creator), real
    if type_name == "DeliveryEvent":
        event = await DeliveryEvent.get(id=from_global_id(object_id, "DeliveryEvent"))
        delivery = await Delivery.get(id=event.delivery_id)  # type: ignore[attr-defined]
        creator = (await Message.get(id=delivery.message_id)).created_by
        real = {"detail": event.detail}
        return caller.may_see_message(creator), caller.may_read_delivery_error(creator), real
    if type_name == "Template":
        template = await Template.get(id=from_global_id(object_id, "Template"))
        real = {"title": template.title, "body": template.body, "html": template.html}
        return caller.may_see_templates(), caller.may_read_template_content(), real
    assert type_name == "Staff", type_name
    staff = await Staff.get(id=from_global_id(object_id, "Staff"))
    return True, caller.may_read_staff_email(staff.id), {"email": staff.email}


class PreferenceLinkTo:
    """Equal to any preference link for the customer at its token version: each read makes a
    fresh one (its own issue time), so the value itself cannot be compared."""

    def __init__(self, customer_id: uuid.UUID, version: int) -> None:
        self.customer_id, self.version = customer_id, version

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str) or "/preferences/" not in other:
            return False
        claims = jwt.decode(other.rsplit("/", 1)[1], options={"verify_signature": False})
        return (claims["typ"], claims["sub"], claims["ver"]) == (
            "preferences",
            str(self.customer_id),
            self.version,
        )

    __hash__ = None  # type: ignore[assignment]


def reach(value: Any, keys: list[str], path: list[Any], found: dict[str, list]) -> None:
    """Follow the response keys, collecting target objects and nulls met on the way."""
    if value is None:
        found["nulls"].append(path)
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            reach(item, keys, [*path, index], found)
        return
    assert isinstance(value, dict), (path, value)
    if not value:  # a `... on T` that did not apply (e.g. `me` is Staff, not Customer)
        found["unmatched"].append(path)
        return
    if not keys:
        found["targets"].append((path, value))
        return
    reach(value[keys[0]], keys[1:], [*path, keys[0]], found)


async def check_response(
    path: ProtectedPath,
    doc: Document,
    caller: Caller,
    result: dict[str, Any],
    stats: dict[str, int],
    literals: set[str],
) -> None:
    where = f"{path.id} as {caller.name}\n{doc.text}\n{json.dumps(result)}"
    errors = result.get("errors") or []
    for error in errors:
        assert error.get("extensions", {}).get("code") == "FORBIDDEN", where
    explained: list[list[Any]] = []
    found: dict[str, list] = {"nulls": [], "targets": [], "unmatched": []}
    if result.get("data") is None:
        found["nulls"].append([doc.keys[0]])
    else:
        reach(result["data"][doc.keys[0]], doc.keys[1:], [doc.keys[0]], found)

    for null in found["nulls"]:
        deeper = [
            e for e in errors if e["path"][: len(null)] == null and len(e["path"]) > len(null)
        ]
        assert not deeper, f"a refused field nulled its parent {null}: {where}"
        # Only a root operation may be refused as a whole; an object met deeper is just absent.
        explained += [e["path"] for e in errors if e["path"] == null and len(null) == 1]

    gates = protected_fields(path.target)
    for object_path, obj in found["targets"]:
        assert obj[doc.typename_key] == path.target, where
        may_see, may_read, real = await judge(path.target, obj[doc.id_key], caller)
        assert may_see, f"saw a {path.target} it may not see: {where}"
        for field, key in doc.fields:
            value = obj[key]
            field_path = [*object_path, key]
            at_field = [e["path"] for e in errors if e["path"] == field_path]
            if may_read:
                assert value == real[field], f"{field}: {where}"
                assert not at_field, where
                stats["read"] += 1
            elif gates[field].silent:
                assert value in (None, []), f"{field} leaked: {where}"
                assert not at_field, where
                stats["refused"] += 1
            else:
                assert value is None, f"{field} leaked: {where}"
                assert len(at_field) == 1, f"{field}: no FORBIDDEN naming it: {where}"
                explained += at_field
                stats["refused"] += 1

    unexplained = [e for e in errors if e["path"] not in explained]
    assert not unexplained, f"unexpected errors: {where}"
    assert not found["unmatched"] or any(s.cond for s in path.steps), where

    text = json.dumps(result)
    for secret in literals:
        assert secret not in text, f"{secret!r} leaked: {where}"


@pytest.mark.parametrize("path", PATHS, ids=[p.id for p in PATHS])
async def test_protected_path(api, path: ProtectedPath):
    world = await build_world(api)
    stats = {"read": 0, "refused": 0}
    for caller in world.callers.values():
        literals = await forbidden_literals(world, caller)
        for shape in SHAPES:
            args = arguments(await root_args(path, world))
            doc = render(path, shape, args)
            result = await api.gql(doc.text, token=await caller.token(api))
            if path.root == "Mutation":  # it may have recorded new personal data
                literals = await forbidden_literals(world, caller)
            await check_response(path, doc, caller, result, stats, literals)
    if path.id not in NOTHING_TO_READ:
        assert stats["read"] > 0, f"no caller ever read {path.id}: the test proves nothing"
    if path.root_field in NON_READERS_REACH:
        assert stats["refused"] > 0, f"no caller was ever refused on {path.id}"
