"""Who may call each root operation, and which customers each caller sees.

`OPS` names every root field of Query and Mutation with the callers allowed to use it; any
other caller gets a top-level FORBIDDEN (payload null) unless the table says it meets a
`UserError` instead (NOT_FOUND: the object is not visible to it), or, for a query with no
payload to carry one, BAD_USER_INPUT. No token or a bad token gives UNAUTHENTICATED
everywhere but `login`. The vocabulary, and the rows for messages and the inbox, are in
`roles_table.py`.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.schema.authz_world import World, build_world
from tests.schema.roles_table import (
    ADMINS,
    AUDIT_OPS,
    CALLERS,
    CUSTOMERS,
    EVERYONE,
    FORBIDDEN,
    INBOX_OPS,
    MARKETERS,
    MESSAGE_OPS,
    NOT_FOUND,
    NOT_STAFF,
    OK,
    READERS_OF_STAFF,
    STAFF_MEMBERS,
    STATS_OPS,
    SUPPRESSION_OPS,
    UNSEEN,
    UNSEEN_BY_AGENTS,
    WEBHOOK_OPS,
    Op,
    fixed,
    payload,
    target,
    with_input,
)
from tests.schema.schema_paths import graphql_schema
from tidings.core.enums import Platform, Role
from tidings.core.models import AccessGrant, Customer, Staff
from tidings.schema.ids import to_global_id


async def admin_email(world: World) -> dict[str, Any]:
    staff = await Staff.get(id=world.admin.id)
    return {"email": staff.email, "password": PASSWORD}


async def scratch_customer(world: World) -> dict[str, Any]:
    """A customer of its own per call: disabling the target would end CUSTOMER_SELF's token."""
    row = await Customer.create(external_id=f"scratch-{secrets.token_hex(4)}")
    return {"id": to_global_id("Customer", row.id)}


async def fresh_api_key(world: World) -> dict[str, Any]:
    from tidings.core.services.staff import ApiKeyService

    key, _ = await ApiKeyService().create(None, "scratch", Role.AGENT)
    return {"id": to_global_id("ApiKey", key.id)}


async def fresh_access_grant(world: World) -> dict[str, Any]:
    grant = await AccessGrant.create(
        staff_id=world.scratch_agent, customer_id=world.target, actions=["REPLY"], created_by="t"
    )
    return {"id": to_global_id("AccessGrant", grant.id)}


async def fresh_device(world: World) -> dict[str, Any]:
    from tidings.core.services.customers import CustomerService

    device = await CustomerService().register_device(
        world.admin_viewer, world.target, Platform.WEB, "tok-" + secrets.token_hex(12)
    )
    return {"id": to_global_id("Device", device.id)}


async def fresh_customer(world: World) -> dict[str, Any]:
    """A customer of its own for each caller: an erasure that succeeds is final."""
    customer = await Customer.create(external_id=f"erase-{secrets.token_hex(4)}")
    return {"id": to_global_id("Customer", customer.id)}


OPS: dict[str, Op] = {
    # Query ---------------------------------------------------------------------------------
    # Any caller may ask; what it gets follows each type's visibility (test_node.py).
    "node": Op(
        "query($id: ID!) { node(id: $id) { id } }", EVERYONE, fixed(lambda w: {"id": target(w)})
    ),
    "me": Op("{ me { __typename } }", EVERYONE),
    "staff": Op(
        "query($id: ID!) { staff(id: $id) { id } }",
        READERS_OF_STAFF,
        fixed(lambda w: {"id": to_global_id("Staff", w.staff_ids["AGENT_READ"])}),
    ),
    "staffMembers": Op("{ staffMembers { nodes { id } } }", READERS_OF_STAFF),
    "apiKeys": Op("{ apiKeys { nodes { id } } }", READERS_OF_STAFF),
    "accessGrants": Op(
        "{ accessGrants { nodes { id } } }",
        READERS_OF_STAFF | {"AGENT_READ", "AGENT_NO_GRANT", "KEY_AGENT"},
    ),
    "customer": Op(
        "query($id: ID!) { customer(id: $id) { id } }",
        EVERYONE,
        fixed(lambda w: {"id": target(w)}),
    ),
    "customers": Op("{ customers { nodes { id } } }", EVERYONE),
    "categories": Op("{ categories { key } }", EVERYONE),
    "category": Op('{ category(key: "news") { key } }', EVERYONE),
    "channels": Op("{ channels { name } }", EVERYONE),
    # Mutation ------------------------------------------------------------------------------
    "login": Op(
        payload(
            "login",
            "(email: $email, password: $password)",
            "token",
            decl="($email: String!, $password: String!)",
        ),
        EVERYONE,
        admin_email,
    ),
    "logout": Op(
        payload("logout", "", "ok"),
        STAFF_MEMBERS,
        otherwise={f"KEY_{r.name}": NOT_STAFF for r in Role},
    ),
    "createStaff": Op(
        with_input("createStaff", "CreateStaffInput", "staff { id }"),
        ADMINS,
        fixed(
            lambda w: {
                "input": {
                    "email": f"s{secrets.token_hex(4)}@corp.example",
                    "password": PASSWORD,
                    "role": "AGENT",
                }
            }
        ),
    ),
    "updateStaff": Op(
        with_input("updateStaff", "UpdateStaffInput", "staff { id }"),
        ADMINS,
        fixed(lambda w: {"input": {"id": to_global_id("Staff", w.scratch_agent)}}),
    ),
    "createApiKey": Op(
        with_input("createApiKey", "CreateApiKeyInput", "apiKey { id }"),
        ADMINS,
        fixed(lambda w: {"input": {"name": "k", "role": "MARKETER"}}),
    ),
    "revokeApiKey": Op(
        payload("revokeApiKey", "(id: $id)", "apiKey { id }", "($id: ID!)"),
        ADMINS,
        fresh_api_key,
    ),
    "grantAccess": Op(
        with_input("grantAccess", "GrantAccessInput", "accessGrant { id }"),
        ADMINS,
        fixed(
            lambda w: {
                "input": {
                    "staffId": to_global_id("Staff", w.scratch_agent),
                    "customerId": target(w),
                    "actions": ["REPLY"],
                }
            }
        ),
    ),
    "revokeAccessGrant": Op(
        payload("revokeAccessGrant", "(id: $id)", "accessGrant { id }", "($id: ID!)"),
        ADMINS,
        fresh_access_grant,
    ),
    "createCustomer": Op(
        with_input("createCustomer", "CreateCustomerInput", "customer { id }"),
        ADMINS,
        fixed(lambda w: {"input": {"externalId": f"x{secrets.token_hex(4)}"}}),
    ),
    "updateCustomer": Op(
        with_input("updateCustomer", "UpdateCustomerInput", "customer { id }"),
        ADMINS,
        fixed(lambda w: {"input": {"id": target(w), "name": "Tara Target"}}),
    ),
    # A customer's own profile: customer tokens only; staff and API keys are FORBIDDEN.
    "updateMe": Op(
        with_input("updateMe", "UpdateMeInput", "customer { id }"),
        frozenset({"CUSTOMER_SELF", "CUSTOMER_OTHER"}),
        fixed(lambda w: {"input": {"name": "Me Myself"}}),
    ),
    "issueCustomerToken": Op(
        payload("issueCustomerToken", "(customerId: $id)", "token", "($id: ID!)"),
        ADMINS,
        fixed(lambda w: {"id": target(w)}),
    ),
    "revokeCustomerTokens": Op(
        payload("revokeCustomerTokens", "(customerId: $id)", "customer { id }", "($id: ID!)"),
        ADMINS | {"CUSTOMER_SELF"},
        fixed(lambda w: {"id": target(w)}),
        UNSEEN_BY_AGENTS,
    ),
    "disableCustomer": Op(
        payload("disableCustomer", "(customerId: $id)", "customer { id }", "($id: ID!)"),
        ADMINS,
        scratch_customer,
    ),
    "enableCustomer": Op(
        payload("enableCustomer", "(customerId: $id)", "customer { id }", "($id: ID!)"),
        ADMINS,
        scratch_customer,
    ),
    "grantPermission": Op(
        with_input("grantPermission", "GrantPermissionInput", "grant { id }"),
        ADMINS | {"CUSTOMER_SELF"},
        fixed(
            lambda w: {
                "input": {
                    "customerId": target(w),
                    "channel": "email",
                    "category": "news",
                    "source": "api",
                }
            }
        ),
        UNSEEN,
    ),
    "withdrawPermission": Op(
        with_input("withdrawPermission", "WithdrawPermissionInput", "grant { id }"),
        ADMINS | {"CUSTOMER_SELF", "AGENT_READ"},
        fixed(
            lambda w: {
                "input": {
                    "customerId": target(w),
                    "channel": "sms",
                    "category": "news",
                    "source": "api",
                }
            }
        ),
        UNSEEN_BY_AGENTS,
    ),
    "setPreference": Op(
        with_input("setPreference", "SetPreferenceInput", "preference { category }"),
        ADMINS | {"CUSTOMER_SELF"},
        fixed(
            lambda w: {
                "input": {
                    "customerId": target(w),
                    "category": "news",
                    "channels": ["email"],
                    "frequency": "REALTIME",
                }
            }
        ),
        UNSEEN,
    ),
    "registerDevice": Op(
        with_input("registerDevice", "RegisterDeviceInput", "device { id }"),
        ADMINS | {"CUSTOMER_SELF"},
        fixed(
            lambda w: {
                "input": {
                    "customerId": target(w),
                    "platform": "ANDROID",
                    "token": "tok-" + secrets.token_hex(12),
                }
            }
        ),
        UNSEEN,
    ),
    "removeDevice": Op(
        payload("removeDevice", "(id: $id)", "device { id }", "($id: ID!)"),
        ADMINS | {"CUSTOMER_SELF"},
        fresh_device,
        {"CUSTOMER_OTHER": NOT_FOUND},
    ),
    "createCategory": Op(
        with_input("createCategory", "CreateCategoryInput", "category { key }"),
        ADMINS | MARKETERS,
        fixed(
            lambda w: {
                "input": {"key": f"c{secrets.token_hex(4)}", "name": "C", "kind": "MARKETING"}
            }
        ),
    ),
    "updateCategory": Op(
        with_input("updateCategory", "UpdateCategoryInput", "category { key }"),
        ADMINS | MARKETERS,
        fixed(lambda w: {"input": {"key": "news", "name": "News"}}),
    ),
    # Data rights: the customer's own, or ADMIN.
    "exportCustomerData": Op(
        payload("exportCustomerData", "(customerId: $id)", "url", "($id: ID)"),
        ADMINS | {"CUSTOMER_SELF"},
        fixed(lambda w: {"id": target(w)}),
        UNSEEN,
    ),
    "eraseCustomer": Op(
        payload("eraseCustomer", '(customerId: $id, reason: "asked")', "customerId", "($id: ID!)"),
        ADMINS,
        fresh_customer,
    ),
    # No id: a customer asks only for its own erasure (carried out at once by default).
    "requestErasure": Op(payload("requestErasure", "", "erased"), CUSTOMERS),
    **MESSAGE_OPS,
    **INBOX_OPS,
    **SUPPRESSION_OPS,
    **STATS_OPS,
    **AUDIT_OPS,
    **WEBHOOK_OPS,
}


def test_table_names_every_root_field():
    schema = graphql_schema()
    roots = set(schema.query_type.fields) | set(schema.mutation_type.fields)
    assert set(OPS) == roots


def test_auditor_may_not_mutate():
    """AUDITOR is read-only: no mutation but logging in and out of its own session."""
    for name in graphql_schema().mutation_type.fields:
        if name in ("login", "logout"):
            continue
        assert not {"AUDITOR", "KEY_AUDITOR"} & OPS[name].allowed, name


def outcome(name: str, result: dict[str, Any]) -> str:
    errors = result.get("errors") or []
    if errors:
        codes = {e.get("extensions", {}).get("code") for e in errors}
        assert len(codes) == 1, result
        assert all(e["path"] == [name] for e in errors), result
        assert (result.get("data") or {}).get(name) is None, result
        return codes.pop()
    value = result["data"][name]
    if isinstance(value, dict) and value.get("errors"):
        # A refused payload carries nothing but the error.
        assert not any(v for k, v in value.items() if k != "errors"), result
        return value["errors"][0]["code"]
    return OK


@pytest.mark.parametrize("name", sorted(OPS))
async def test_who_may_call(api, name: str):
    op = OPS[name]
    world = await build_world(api)
    for caller_name in CALLERS:
        caller = world.callers[caller_name]
        variables = await op.variables(world) if op.variables else None
        result = await api.gql(op.document, variables, token=await caller.token(api))
        expected = OK if caller_name in op.allowed else op.otherwise.get(caller_name, FORBIDDEN)
        assert outcome(name, result) == expected, (caller_name, result)
    for token in (None, "not-a-token", "tdk_not-a-key"):
        variables = await op.variables(world) if op.variables else None
        result = await api.gql(op.document, variables, token=token)
        expected = OK if name == "login" else "UNAUTHENTICATED"
        assert outcome(name, result) == expected, (token, result)


async def test_staff_may_change_only_its_own_password(api):
    world = await build_world(api)
    agent = world.callers["AGENT_READ"]
    doc = with_input("updateStaff", "UpdateStaffInput", "staff { id role }")
    own = {"id": to_global_id("Staff", agent.id)}
    result = await api.gql(
        doc, {"input": {**own, "password": "another long password"}}, await agent.token(api)
    )
    assert outcome("updateStaff", result) == OK
    result = await api.gql(doc, {"input": {**own, "role": "ADMIN"}}, await agent.token(api))
    assert outcome("updateStaff", result) == FORBIDDEN
    assert (await Staff.get(id=agent.id)).role is Role.AGENT
