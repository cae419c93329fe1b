"""Staff accounts, API keys and access grants through the API."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import PASSWORD, data
from tests.core.support import admin, create_customer, only_error
from tidings.core.enums import Role
from tidings.core.models import AccessGrant, ApiKey, Staff

CREATE_STAFF = """
mutation($input: CreateStaffInput!) {
  createStaff(input: $input) { staff { id email role active } errors { code field message } }
}
"""
UPDATE_STAFF = """
mutation($input: UpdateStaffInput!) {
  updateStaff(input: $input) { staff { id role active } errors { code field message } }
}
"""
STAFF_MEMBERS = "{ staffMembers(first: 50) { edges { node { id email role } } } }"
CREATE_KEY = """
mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) {
    apiKey { id name role prefix createdAt lastUsedAt } secret errors { code field message }
  }
}
"""
API_KEYS = "{ apiKeys { edges { node { id name role prefix } } } }"
REVOKE_KEY = "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } errors { code } } }"
GRANT_ACCESS = """
mutation($input: GrantAccessInput!) {
  grantAccess(input: $input) {
    accessGrant { id actions expiresAt staff { id } customer { id } }
    errors { code field message }
  }
}
"""
ACCESS_GRANTS = "{ accessGrants { edges { node { id actions staff { id } customer { id } } } } }"
REVOKE_ACCESS = """
mutation($id: ID!) { revokeAccessGrant(id: $id) { accessGrant { id } errors { code } } }
"""
ME = "{ me { __typename ... on ApiKey { id name role } ... on Staff { id role } } }"


async def create_staff(api, token, email, password=PASSWORD, role="MARKETER"):
    variables = {"input": {"email": email, "password": password, "role": role}}
    return data(await api.gql(CREATE_STAFF, variables, token))["createStaff"]


async def update_staff(api, token, **fields):
    return data(await api.gql(UPDATE_STAFF, {"input": fields}, token))["updateStaff"]


def gid(type_name, value):
    return base64.b64encode(f"{type_name}:{value}".encode()).decode()


# Staff --------------------------------------------------------------------------------------


async def test_create_staff_and_log_in(api):
    _, token = await admin(api)
    payload = await create_staff(api, token, "Mia@Example.com", role="AGENT")
    assert payload["errors"] == []
    assert payload["staff"]["email"] == "mia@example.com"
    assert (payload["staff"]["role"], payload["staff"]["active"]) == ("AGENT", True)
    login = data(
        await api.gql(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) "
            "{ token errors { code } } }",
            {"e": "mia@example.com", "p": PASSWORD},
        )
    )["login"]
    assert login["errors"] == [] and login["token"]


@pytest.mark.parametrize(
    ("email", "password", "code", "field"),
    [
        ("new@example.com", "short", "WEAK_PASSWORD", "password"),
        ("new@example.com", "x" * 11, "WEAK_PASSWORD", "password"),
        ("taken@example.com", PASSWORD, "DUPLICATE_EMAIL", "email"),
        ("TAKEN@example.com", PASSWORD, "DUPLICATE_EMAIL", "email"),
        ("not-an-email", PASSWORD, "INVALID_EMAIL", "email"),
    ],
)
async def test_create_staff_rejects_and_changes_nothing(api, email, password, code, field):
    _, token = await admin(api)
    await create_staff(api, token, "taken@example.com")
    before = await Staff.all().count()
    payload = await create_staff(api, token, email, password)
    assert payload["staff"] is None
    error = only_error(payload)
    assert (error["code"], error["field"]) == (code, field)
    assert await Staff.all().count() == before


async def test_admin_changes_a_members_role_and_the_list_shows_it(api):
    admin_id, token = await admin(api)
    member = (await create_staff(api, token, "m@example.com"))["staff"]
    payload = await update_staff(api, token, id=member["id"], role="AUDITOR")
    assert payload["errors"] == []
    assert payload["staff"]["role"] == "AUDITOR"
    listed = data(await api.gql(STAFF_MEMBERS, token=token))["staffMembers"]["edges"]
    roles = {edge["node"]["email"]: edge["node"]["role"] for edge in listed}
    assert roles["m@example.com"] == "AUDITOR"
    assert len(listed) == 2
    assert gid("Staff", admin_id) in {edge["node"]["id"] for edge in listed}


@pytest.mark.parametrize("change", [{"role": "MARKETER"}, {"active": False}])
async def test_last_admin_cannot_demote_or_deactivate_itself(api, change):
    admin_id, token = await admin(api)
    payload = await update_staff(api, token, id=gid("Staff", admin_id), **change)
    assert payload["staff"] is None
    assert only_error(payload)["code"] == "LAST_ADMIN"
    row = await Staff.get(id=admin_id)
    assert (row.role, row.active, row.token_version) == (Role.ADMIN, True, 0)


async def test_an_admin_may_step_down_while_another_remains(api):
    admin_id, token = await admin(api)
    await admin(api)
    payload = await update_staff(api, token, id=gid("Staff", admin_id), role="MARKETER")
    assert payload["errors"] == []
    assert (await Staff.get(id=admin_id)).role is Role.MARKETER


async def test_a_non_admin_cannot_change_roles(api):
    member_id, token = await api.staff(Role.MARKETER)
    result = await api.gql(
        UPDATE_STAFF, {"input": {"id": gid("Staff", member_id), "role": "ADMIN"}}, token
    )
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await Staff.get(id=member_id)).role is Role.MARKETER


# API keys -----------------------------------------------------------------------------------


async def test_api_key_secret_is_shown_once_and_works(api):
    _, token = await admin(api)
    created = data(
        await api.gql(CREATE_KEY, {"input": {"name": "back end", "role": "ADMIN"}}, token)
    )["createApiKey"]
    assert created["errors"] == []
    secret = created["secret"]
    assert secret.startswith("tdk_") and len(secret) > 32
    assert secret.startswith(created["apiKey"]["prefix"])
    assert secret not in json.dumps(await ApiKey.all().values(), default=str)  # stored hashed

    me = data(await api.gql(ME, token=secret))["me"]
    assert me == {
        "__typename": "ApiKey",
        "id": created["apiKey"]["id"],
        "name": "back end",
        "role": "ADMIN",
    }

    listed = await api.gql(API_KEYS, token=token)
    assert secret not in json.dumps(listed)
    nodes = [edge["node"] for edge in data(listed)["apiKeys"]["edges"]]
    assert [n["id"] for n in nodes] == [created["apiKey"]["id"]]
    # Nothing on the type can return it.
    leak = await api.gql("{ apiKeys { edges { node { secret } } } }", token=token)
    assert leak.get("data") is None


async def test_revoked_api_key_stops_working(api):
    _, token = await admin(api)
    created = data(
        await api.gql(CREATE_KEY, {"input": {"name": "old", "role": "MARKETER"}}, token)
    )["createApiKey"]
    revoked = data(await api.gql(REVOKE_KEY, {"id": created["apiKey"]["id"]}, token))
    assert revoked["revokeApiKey"]["errors"] == []
    result = await api.gql(ME, token=created["secret"])
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert data(await api.gql(API_KEYS, token=token))["apiKeys"]["edges"] == []
    again = data(await api.gql(REVOKE_KEY, {"id": created["apiKey"]["id"]}, token))
    assert again["revokeApiKey"]["errors"] == [{"code": "NOT_FOUND"}]


async def test_api_key_needs_a_name(api):
    _, token = await admin(api)
    payload = data(await api.gql(CREATE_KEY, {"input": {"name": " ", "role": "ADMIN"}}, token))
    assert payload["createApiKey"]["secret"] is None
    assert only_error(payload["createApiKey"])["code"] == "REQUIRED"
    assert await ApiKey.all().count() == 0


# Access grants ------------------------------------------------------------------------------


@pytest.fixture
async def agents(api):
    _, token = await admin(api)
    customer = await create_customer(api, token, email="c@example.com")
    one_id, one_token = await api.staff(Role.AGENT)
    two_id, two_token = await api.staff(Role.AGENT)
    return {
        "token": token,
        "customer": customer["id"],
        "one": (gid("Staff", one_id), one_token),
        "two": (gid("Staff", two_id), two_token),
    }


async def grant_access(api, token, staff, customer, actions=("READ",), expires_at=None):
    variables = {
        "input": {
            "staffId": staff,
            "customerId": customer,
            "actions": list(actions),
            "expiresAt": expires_at,
        }
    }
    return data(await api.gql(GRANT_ACCESS, variables, token))["grantAccess"]


async def customer_as(api, token, customer):
    query = "query($id: ID!) { customer(id: $id) { id email } }"
    return (await api.gql(query, {"id": customer}, token))["data"]["customer"]


async def test_grant_list_and_revoke_access(api, agents):
    token, customer = agents["token"], agents["customer"]
    (one, one_token), (two, two_token) = agents["one"], agents["two"]
    assert await customer_as(api, one_token, customer) is None

    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    made = await grant_access(api, token, one, customer, ["READ", "REPLY", "READ"], future)
    assert made["errors"] == []
    grant = made["accessGrant"]
    assert grant["actions"] == ["READ", "REPLY"]
    assert (grant["staff"]["id"], grant["customer"]["id"]) == (one, customer)
    assert grant["expiresAt"] is not None
    other = (await grant_access(api, token, two, customer, ["SEND"]))["accessGrant"]

    assert await customer_as(api, one_token, customer) == {"id": customer, "email": "c@example.com"}

    def ids(result):
        return [edge["node"]["id"] for edge in data(result)["accessGrants"]["edges"]]

    assert ids(await api.gql(ACCESS_GRANTS, token=token)) == [grant["id"], other["id"]]
    assert ids(await api.gql(ACCESS_GRANTS, token=one_token)) == [grant["id"]]
    assert ids(await api.gql(ACCESS_GRANTS, token=two_token)) == [other["id"]]

    revoked = data(await api.gql(REVOKE_ACCESS, {"id": grant["id"]}, token))["revokeAccessGrant"]
    assert revoked["errors"] == []
    assert ids(await api.gql(ACCESS_GRANTS, token=one_token)) == []
    assert await customer_as(api, one_token, customer) is None
    again = data(await api.gql(REVOKE_ACCESS, {"id": grant["id"]}, token))["revokeAccessGrant"]
    assert again["errors"] == [{"code": "NOT_FOUND"}]


PAST = "past"
UNKNOWN = "unknown"


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"expires_at": PAST}, "IN_THE_PAST", "expiresAt"),
        ({"actions": ()}, "REQUIRED", "actions"),
        ({"customer": UNKNOWN}, "NOT_FOUND", "customerId"),
        ({"staff": UNKNOWN}, "NOT_FOUND", "staffId"),
        ({"staff": "not-an-id"}, "NOT_FOUND", "staffId"),
    ],
)
async def test_grant_access_rejects_and_changes_nothing(api, agents, change, code, field):
    args = {"staff": agents["one"][0], "customer": agents["customer"], "actions": ("READ",)}
    args.update(change)
    if args.get("expires_at") == PAST:
        args["expires_at"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    if args["staff"] == UNKNOWN:
        args["staff"] = gid("Staff", uuid.uuid4())
    if args["customer"] == UNKNOWN:
        args["customer"] = gid("Customer", uuid.uuid4())
    payload = await grant_access(api, agents["token"], **args)
    assert payload["accessGrant"] is None
    error = only_error(payload)
    assert (error["code"], error["field"]) == (code, field)
    assert await AccessGrant.all().count() == 0


async def test_only_admin_grants_access(api, agents):
    result = await api.gql(
        GRANT_ACCESS,
        {
            "input": {
                "staffId": agents["one"][0],
                "customerId": agents["customer"],
                "actions": ["READ"],
            }
        },
        agents["one"][1],
    )
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await AccessGrant.all().count() == 0
