"""Signing in to the dashboard, over HTTP against the ASGI app: the session cookie, CSRF, the
checks every request repeats (active, unrevoked, role), and signing out."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import Api, make_settings
from tests.dashboard.support import csrf_of, member, sign_in
from tidings.api.app import create_app
from tidings.api.dashboard.session import COOKIE, DashboardSessions
from tidings.core.enums import Role
from tidings.core.models import Staff
from tidings.core.viewer import Viewer, ViewerKind

SIGN_IN_TITLE = "<title>Sign in to the dashboard</title>"
WRONG = "The email or the password is wrong."


async def test_without_a_session_the_page_is_the_sign_in_form(api):
    response = await api.client.get("/dashboard")
    assert response.status_code == 200
    assert SIGN_IN_TITLE in response.text
    assert 'name="password"' in response.text
    assert response.headers["cache-control"] == "no-store"
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MARKETER, Role.AUDITOR])
async def test_a_stats_role_signs_in_and_sees_the_dashboard(api, role):
    staff = await member(api, role)
    response = await sign_in(api.client, staff.email)
    assert response.status_code == 303
    assert response.headers["location"] == "../dashboard?lang=en"
    page = await api.client.get("/dashboard")
    assert page.status_code == 200
    assert "<title>Tidings dashboard</title>" in page.text
    assert staff.email in page.text and 'id="chart-funnel"' in page.text
    # The email is matched whatever its case, as the GraphQL login does.
    api.client.cookies.clear()
    assert (await sign_in(api.client, staff.email.upper())).status_code == 303


async def test_the_session_cookie_flags_in_development(api):
    staff = await member(api, Role.ADMIN)
    response = await sign_in(api.client, staff.email)
    cookie = _session_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/dashboard" in cookie
    assert "Max-Age=43200" in cookie  # TIDINGS_STAFF_TOKEN_TTL: 12 hours
    assert "Secure" not in cookie  # plain HTTP on loopback in development


def _sets_session(response: httpx.Response) -> bool:
    return any(c.startswith(f"{COOKIE}=") for c in response.headers.get_list("set-cookie"))


def _session_cookie(response: httpx.Response) -> str:
    (cookie,) = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}=")]
    return cookie


async def test_the_session_cookie_is_secure_in_production(db):
    settings = make_settings(
        db, TIDINGS_ENV="production", TIDINGS_PUBLIC_URL="https://notify.example"
    )
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://notify.example") as client:
        api = Api(client=client, app=app)
        staff = await member(api, Role.MARKETER)
        form = await client.get("/dashboard")
        login_cookie = form.headers["set-cookie"]
        assert "Secure" in login_cookie and "HttpOnly" in login_cookie
        response = await sign_in(client, staff.email)
        assert response.status_code == 303
        cookie = _session_cookie(response)
        assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/dashboard" in cookie
        assert "samesite=strict" in cookie.lower()
    app.state.runtime.templates.close()


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(api):
    staff = await member(api, Role.ADMIN)
    wrong = await sign_in(api.client, staff.email, "not the password at all")
    unknown = await sign_in(api.client, "nobody@example.com", "not the password at all")
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert WRONG in response.text
        assert not _sets_session(response)
    assert wrong.text.replace(staff.email, "X") == unknown.text.replace("nobody@example.com", "X")
    assert (await api.client.get("/dashboard")).text.count(SIGN_IN_TITLE) == 1


async def test_a_deactivated_member_cannot_sign_in(api):
    staff = await member(api, Role.ADMIN)
    await Staff.filter(id=staff.id).update(active=False)
    assert (await sign_in(api.client, staff.email)).status_code == 400


@pytest.mark.parametrize(
    "change",
    ["missing", "wrong", "other-site origin", "cross-site fetch", "no login cookie"],
)
async def test_sign_in_without_a_valid_csrf_field_is_refused(api, change):
    staff = await member(api, Role.ADMIN)
    form = await api.client.get("/dashboard")
    fields = {"csrf": csrf_of(form.text), "email": staff.email, "password": "correct horse battery"}
    headers = {}
    if change == "missing":
        del fields["csrf"]
    elif change == "wrong":
        fields["csrf"] = "0" * 64
    elif change == "other-site origin":
        headers["origin"] = "https://evil.example"
    elif change == "cross-site fetch":
        headers["sec-fetch-site"] = "cross-site"
    else:
        api.client.cookies.clear()
    response = await api.client.post("/dashboard/sign-in", data=fields, headers=headers)
    assert response.status_code == 403
    assert not _sets_session(response)
    assert "<title>Tidings dashboard</title>" not in (await api.client.get("/dashboard")).text


async def test_an_agent_gets_a_clear_403_page(api):
    staff = await member(api, Role.AGENT)
    assert (await sign_in(api.client, staff.email)).status_code == 303
    page = await api.client.get("/dashboard")
    assert page.status_code == 403
    assert "No access to the dashboard" in page.text and "AGENT" in page.text
    assert 'id="chart-funnel"' not in page.text
    assert 'action="dashboard/sign-out' in page.text  # it can still sign out
    for path in ("/dashboard/live.json", "/dashboard/funnel.csv"):
        assert (await api.client.get(path)).status_code == 403


async def test_deactivating_a_member_ends_the_session_at_once(api):
    staff = await member(api, Role.MARKETER)
    await sign_in(api.client, staff.email)
    assert 'id="chart-funnel"' in (await api.client.get("/dashboard")).text
    admin_id, _ = await api.staff(Role.ADMIN)
    admin = Viewer(ViewerKind.STAFF, admin_id, Role.ADMIN)
    await api.runtime.services.staff.update(admin, staff.id, active=False)
    page = await api.client.get("/dashboard")
    assert SIGN_IN_TITLE in page.text
    assert (await api.client.get("/dashboard/live.json")).status_code == 401
    assert (await api.client.get("/dashboard/daily.csv")).status_code == 401


async def test_a_role_change_ends_the_session(api):
    staff = await member(api, Role.MARKETER)
    await sign_in(api.client, staff.email)
    admin = Viewer(ViewerKind.STAFF, uuid.uuid4(), Role.ADMIN)
    await api.runtime.services.staff.update(admin, staff.id, role=Role.AUDITOR)
    assert SIGN_IN_TITLE in (await api.client.get("/dashboard")).text


async def test_sign_out_needs_its_csrf_field_and_ends_the_session(api):
    staff = await member(api, Role.ADMIN)
    await sign_in(api.client, staff.email)
    page = await api.client.get("/dashboard")
    stolen = api.client.cookies.get(COOKIE)
    refused = await api.client.post("/dashboard/sign-out", data={"csrf": "nope"})
    assert refused.status_code == 403
    assert 'id="chart-funnel"' in (await api.client.get("/dashboard")).text
    done = await api.client.post("/dashboard/sign-out", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303
    assert f'{COOKIE}=""' in done.headers["set-cookie"] or "Max-Age=0" in done.headers["set-cookie"]
    assert SIGN_IN_TITLE in (await api.client.get("/dashboard")).text
    # The old cookie, kept by someone, no longer opens the page either.
    api.client.cookies.set(COOKIE, stolen, path="/dashboard")
    assert SIGN_IN_TITLE in (await api.client.get("/dashboard")).text


async def test_a_bearer_token_is_not_a_session(api):
    """The page reads its own cookie only: a customer's (or staff's) API token opens nothing."""
    _, staff_token = await api.staff(Role.ADMIN)
    customer_token = api.customer_token(uuid.uuid4())
    for token in (customer_token, staff_token):
        headers = {"Authorization": f"Bearer {token}"}
        page = await api.client.get("/dashboard", headers=headers)
        assert SIGN_IN_TITLE in page.text
        assert (await api.client.get("/dashboard/live.json", headers=headers)).status_code == 401
        assert (await api.client.get("/dashboard/funnel.csv", headers=headers)).status_code == 401


async def test_a_session_cookie_for_a_customer_id_or_forged_or_expired_opens_nothing(api):
    runtime = api.runtime
    settings = runtime.settings
    sessions = DashboardSessions(settings.secret_key.reveal(), settings.public_url, 60, False)
    customer_id = uuid.uuid4()  # no staff member has it
    staff = await member(api, Role.ADMIN)
    expired = DashboardSessions(settings.secret_key.reveal(), settings.public_url, -1, False)
    other_key = DashboardSessions(
        "another installation " + "k" * 32, settings.public_url, 60, False
    )
    good = sessions.issue(staff.id, staff.token_version)
    body, mac = good.split(".")
    cases = {
        "customer id": sessions.issue(customer_id, 0),
        "expired": expired.issue(staff.id, staff.token_version),
        "other key": other_key.issue(staff.id, staff.token_version),
        "old version": sessions.issue(staff.id, staff.token_version - 1),
        "tampered": body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac,
        "garbage": "not.a-cookie",
        "no dot": "abc",
    }
    for name, value in cases.items():
        api.client.cookies.clear()
        api.client.cookies.set(COOKIE, value, path="/dashboard")
        page = await api.client.get("/dashboard")
        assert SIGN_IN_TITLE in page.text, name
        assert (await api.client.get("/dashboard/live.json")).status_code == 401, name
    api.client.cookies.clear()
    api.client.cookies.set(COOKIE, good, path="/dashboard")
    assert 'id="chart-funnel"' in (await api.client.get("/dashboard")).text


async def test_the_page_speaks_chinese(api):
    page = await api.client.get("/dashboard?lang=zh-CN")
    assert '<html lang="zh-CN">' in page.text and "登录数据看板" in page.text
    by_header = await api.client.get("/dashboard", headers={"accept-language": "zh-CN,zh;q=0.9"})
    assert "登录数据看板" in by_header.text
    staff = await member(api, Role.ADMIN)
    form = await api.client.get("/dashboard?lang=zh-CN")
    wrong = await api.client.post(
        "/dashboard/sign-in?lang=zh-CN",
        data={"csrf": csrf_of(form.text), "email": staff.email, "password": "x" * 20},
    )
    assert "邮箱或密码错误。" in wrong.text
