"""The throttle as clients meet it: `login`'s TOO_MANY_ATTEMPTS with `retryAfter`, the
dashboard's sign-in form in both languages, and the password rules on createStaff and
updateStaff. Time moves through the throttle's clock parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import PASSWORD, SECRET, data
from tests.dashboard.support import member, sign_in
from tidings.core.enums import Role
from tidings.core.models import AuditEntry
from tidings.core.services.throttle import SignInThrottle
from tidings.schema.ids import to_global_id

LOGIN = (
    "mutation($email: String!, $password: String!) { login(email: $email, password: $password)"
    " { token retryAfter errors { code field message } } }"
)
CREATE_STAFF = (
    "mutation($input: CreateStaffInput!) { createStaff(input: $input)"
    " { staff { id } errors { code field } } }"
)
UPDATE_STAFF = (
    "mutation($input: UpdateStaffInput!) { updateStaff(input: $input)"
    " { staff { id } errors { code field } } }"
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _throttle(api, free: int = 2) -> Clock:
    clock = Clock()
    api.runtime.services.staff.throttle = SignInThrottle(SECRET, free=free, clock=clock)
    return clock


async def _login(api, email: str, password: str) -> dict:
    return data(await api.gql(LOGIN, {"email": email, "password": password}))["login"]


async def test_login_is_refused_with_a_retry_time_and_the_audit_log_says_so(api):
    clock = _throttle(api, free=2)
    staff = await member(api, Role.ADMIN)
    for _ in range(3):
        wrong = await _login(api, staff.email, "not the password")
        assert wrong["errors"][0]["code"] == "INVALID_CREDENTIALS" and wrong["retryAfter"] is None
    refused = await _login(api, staff.email, PASSWORD)
    assert refused["token"] is None and refused["retryAfter"] == 1
    assert refused["errors"][0]["code"] == "TOO_MANY_ATTEMPTS"
    assert "1 seconds" in refused["errors"][0]["message"]
    entry = await AuditEntry.filter(action="auth.throttled").first()
    assert entry is not None and entry.targets == {"staff": str(staff.id)}
    assert entry.actor_kind == "system" and entry.detail["retryAfter"] == 1
    clock.advance(1)
    ok = await _login(api, staff.email, PASSWORD)
    assert ok["token"] and ok["errors"] == [] and ok["retryAfter"] is None


async def test_an_unknown_email_is_throttled_like_a_known_one(api):
    _throttle(api, free=1)
    for _ in range(2):
        await _login(api, "nobody@example.com", "not the password")
    refused = await _login(api, "nobody@example.com", "not the password")
    assert refused["errors"][0]["code"] == "TOO_MANY_ATTEMPTS"
    entry = await AuditEntry.filter(action="auth.throttled").first()
    assert entry is not None and entry.targets == {}


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "Too many failed sign-ins. Please wait 1 seconds and try again."),
        ("zh-CN", "登录失败次数过多，请在 1 秒后重试。"),
    ],
)
async def test_the_dashboard_shows_the_wait_in_both_languages(api, lang, text):
    _throttle(api, free=1)
    staff = await member(api, Role.ADMIN)
    api.client.headers["accept-language"] = lang
    for _ in range(2):
        assert (await sign_in(api.client, staff.email, "not the password")).status_code == 400
    refused = await sign_in(api.client, staff.email)
    assert refused.status_code == 429
    assert text in refused.text
    assert "tidings_dashboard=" not in refused.headers.get("set-cookie", "")


async def test_the_dashboard_and_login_share_the_counters(api):
    _throttle(api, free=2)
    staff = await member(api, Role.ADMIN)
    for _ in range(3):
        await sign_in(api.client, staff.email, "not the password")
    refused = await _login(api, staff.email, PASSWORD)
    assert refused["errors"][0]["code"] == "TOO_MANY_ATTEMPTS"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "WEAK_PASSWORD"),
        ("iloveyou", "WEAK_PASSWORD"),
        ("1qaz2wsx3edc", "COMMON_PASSWORD"),
        ("Password2024!", "COMMON_PASSWORD"),
        ("123456789iloveyou", "COMMON_PASSWORD"),
        ("zzzzzzzzzzzzzz", "COMMON_PASSWORD"),
        ("x" * 1025, "TOO_LONG"),
    ],
)
async def test_create_and_update_staff_refuse_weak_and_common_passwords(api, password, code):
    admin_id, token = await api.staff(Role.ADMIN)
    created = data(
        await api.gql(
            CREATE_STAFF,
            {"input": {"email": "new@example.com", "password": password, "role": "AGENT"}},
            token,
        )
    )["createStaff"]
    assert created == {"staff": None, "errors": [{"code": code, "field": "password"}]}
    changed = data(
        await api.gql(
            UPDATE_STAFF,
            {"input": {"id": to_global_id("Staff", admin_id), "password": password}},
            token,
        )
    )["updateStaff"]
    assert changed == {"staff": None, "errors": [{"code": code, "field": "password"}]}


async def test_a_long_uncommon_password_is_accepted(api):
    _, token = await api.staff(Role.ADMIN)
    created = data(
        await api.gql(
            CREATE_STAFF,
            {"input": {"email": "new@example.com", "password": PASSWORD, "role": "AGENT"}},
            token,
        )
    )["createStaff"]
    assert created["errors"] == [] and created["staff"]["id"]
