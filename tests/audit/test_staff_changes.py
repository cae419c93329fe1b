"""Staff, access grants, API keys, sign-ins (GraphQL and dashboard) and sign-outs."""

from __future__ import annotations

from tests.audit.support import actor, assert_no_pii, count, post, request_id, since
from tests.conftest import PASSWORD, Api, data
from tests.core.support import admin, create_customer, raw_id
from tests.dashboard.support import csrf_of, member, sign_in
from tidings.core.enums import Role
from tidings.core.services.staff import StaffService
from tidings.schema.ids import to_global_id

LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token errors { code } } }"
LOGOUT = "mutation { logout { ok errors { code } } }"
CREATE_STAFF = """
mutation($input: CreateStaffInput!) { createStaff(input: $input) { staff { id } errors { code } } }
"""
UPDATE_STAFF = """
mutation($input: UpdateStaffInput!) { updateStaff(input: $input) { staff { id } errors { code } } }
"""
CREATE_KEY = """
mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { apiKey { id } secret errors { code } }
}"""
REVOKE_KEY = "mutation($id: ID!) { revokeApiKey(id: $id) { errors { code } } }"
GRANT_ACCESS = """
mutation($input: GrantAccessInput!) {
  grantAccess(input: $input) { accessGrant { id } errors { code } }
}"""
REVOKE_ACCESS = "mutation($id: ID!) { revokeAccessGrant(id: $id) { errors { code } } }"
NEW_PASSWORD = "another long passphrase 42"


async def test_login_failed_login_and_logout(api: Api) -> None:
    staff = await member(api, Role.MARKETER)
    before = await count()
    wrong = await post(api, LOGIN, None, {"e": staff.email, "p": "wrong password!"})
    assert data(wrong.json())["login"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]
    unknown = await post(api, LOGIN, None, {"e": "nobody@example.com", "p": PASSWORD})
    good = await post(api, LOGIN, None, {"e": staff.email, "p": PASSWORD})
    token = data(good.json())["login"]["token"]
    out = await post(api, LOGOUT, token)
    failed, failed_unknown, login, logout = await since(before)
    assert failed.action == "staff.login_failed" and actor(failed) == "system"
    assert failed.targets == {"staff": str(staff.id)}
    assert failed.detail == {"via": "graphql"} and failed.request_id == request_id(wrong)
    assert failed.ip == "127.0.0.1"
    assert failed_unknown.action == "staff.login_failed" and failed_unknown.targets == {}
    assert failed_unknown.request_id == request_id(unknown)
    assert login.action == "staff.login" and actor(login) == f"staff:{staff.id}"
    assert login.request_id == request_id(good)
    assert logout.action == "staff.logout" and actor(logout) == f"staff:{staff.id}"
    assert logout.request_id == request_id(out)
    await assert_no_pii(staff.email, "nobody@example.com", PASSWORD)


async def test_dashboard_sign_in_failure_and_sign_out(api: Api) -> None:
    staff = await member(api, Role.ADMIN)
    before = await count()
    form = await api.client.get("/dashboard")
    refused = await api.client.post(
        "/dashboard/sign-in",
        data={"csrf": csrf_of(form.text), "email": staff.email, "password": "x" * 5000},
    )
    assert refused.status_code == 400
    wrong = await sign_in(api.client, staff.email, "not the password")
    assert wrong.status_code == 400
    signed = await sign_in(api.client, staff.email)
    assert signed.status_code == 303
    page = await api.client.get("/dashboard")
    out = await api.client.post("/dashboard/sign-out", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303
    too_long, failed, login, logout = await since(before)
    assert (too_long.action, too_long.targets) == ("staff.login_failed", {})
    assert too_long.detail == {"via": "dashboard"}
    assert too_long.request_id == request_id(refused)
    assert failed.action == "staff.login_failed" and failed.targets == {"staff": str(staff.id)}
    assert failed.request_id == request_id(wrong)
    assert login.action == "staff.login" and login.detail == {"via": "dashboard"}
    assert actor(login) == f"staff:{staff.id}" and login.request_id == request_id(signed)
    assert logout.action == "staff.logout" and logout.detail == {"via": "dashboard"}
    assert actor(logout) == f"staff:{staff.id}" and logout.request_id == request_id(out)
    await assert_no_pii(staff.email)


async def test_staff_created_changed_and_deactivated(api: Api) -> None:
    admin_id, token = await admin(api)
    before = await count()
    created = await post(
        api,
        CREATE_STAFF,
        token,
        {"input": {"email": "new.agent@example.com", "password": NEW_PASSWORD, "role": "AGENT"}},
    )
    staff_gid = data(created.json())["createStaff"]["staff"]["id"]
    staff_id = raw_id(staff_gid)
    changed = await post(
        api, UPDATE_STAFF, token, {"input": {"id": staff_gid, "role": "AUDITOR", "active": False}}
    )
    password = await post(
        api, UPDATE_STAFF, token, {"input": {"id": staff_gid, "password": NEW_PASSWORD + "!"}}
    )
    reactivated = await post(api, UPDATE_STAFF, token, {"input": {"id": staff_gid, "active": True}})
    same = await post(api, UPDATE_STAFF, token, {"input": {"id": staff_gid, "role": "AUDITOR"}})
    entries = await since(before)
    assert [e.action for e in entries] == [
        "staff.create", "staff.role_change", "staff.deactivate", "staff.password_change",
        "staff.reactivate", "staff.update",
    ]  # fmt: skip
    assert {actor(e) for e in entries} == {f"staff:{admin_id}"}
    assert {tuple(e.targets.items()) for e in entries} == {(("staff", str(staff_id)),)}
    assert entries[0].detail == {"role": "AGENT"}
    assert entries[1].detail == {"role": "AUDITOR", "previous": "AGENT"}
    assert entries[5].detail == {"fields": []}
    responses = [created, changed, changed, password, reactivated, same]
    assert [e.request_id for e in entries] == [request_id(r) for r in responses]
    await assert_no_pii("new.agent@example.com", NEW_PASSWORD)


async def test_the_cli_creates_staff_as_the_system(api: Api) -> None:
    before = await count()
    staff = await StaffService().create("cli@example.com", NEW_PASSWORD, Role.ADMIN)
    (entry,) = await since(before)
    assert (entry.action, actor(entry), entry.request_id) == ("staff.create", "system", None)
    assert entry.targets == {"staff": str(staff.id)}


async def test_api_keys_and_access_grants(api: Api) -> None:
    admin_id, token = await admin(api)
    customer = await create_customer(api, token, email="ak@example.com")
    agent_id, _ = await api.staff(Role.AGENT)
    before = await count()
    created = await post(api, CREATE_KEY, token, {"input": {"name": "shop", "role": "MARKETER"}})
    payload = data(created.json())["createApiKey"]
    revoked = await post(api, REVOKE_KEY, token, {"id": payload["apiKey"]["id"]})
    granted = await post(
        api,
        GRANT_ACCESS,
        token,
        {"input": {"staffId": to_global_id("Staff", agent_id), "customerId": customer["id"],
                   "actions": ["REPLY", "READ"]}},
    )  # fmt: skip
    grant_gid = data(granted.json())["grantAccess"]["accessGrant"]["id"]
    ended = await post(api, REVOKE_ACCESS, token, {"id": grant_gid})
    key_made, key_revoked, grant_made, grant_revoked = await since(before)
    key_id = str(raw_id(payload["apiKey"]["id"]))
    assert (key_made.action, key_made.targets) == ("api_key.create", {"api_key": key_id})
    assert key_made.detail == {"role": "MARKETER", "scopes": None, "expiresAt": None}
    assert (key_revoked.action, key_revoked.targets) == ("api_key.revoke", {"api_key": key_id})
    targets = {"grant": str(raw_id(grant_gid)), "staff": str(agent_id)}
    assert (grant_made.action, grant_made.targets) == ("access_grant.create", targets)
    assert grant_made.customer_id == raw_id(customer["id"])
    assert grant_made.detail == {"actions": ["READ", "REPLY"], "expires": False}
    assert (grant_revoked.action, grant_revoked.targets) == ("access_grant.revoke", targets)
    assert grant_revoked.customer_id == raw_id(customer["id"])
    entries = [key_made, key_revoked, grant_made, grant_revoked]
    assert {actor(e) for e in entries} == {f"staff:{admin_id}"}
    responses = [created, revoked, granted, ended]
    assert [e.request_id for e in entries] == [request_id(r) for r in responses]
    await assert_no_pii(payload["secret"], "ak@example.com")
