"""Bearer tokens: every way a token can be bad gives UNAUTHENTICATED, and `login` needs none."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from tests.conftest import PASSWORD, SECRET, data
from tidings.core.enums import Role
from tidings.core.tokens import ISSUER, TokenKind, TokenSigner
from tidings.schema.ids import from_global_id, to_global_id

ME = "{ me { __typename } }"
UPDATE_STAFF = (
    "mutation($input: UpdateStaffInput!) { updateStaff(input: $input) "
    "{ staff { id } errors { code } } }"
)
LOGIN = (
    "mutation($email: String!, $password: String!) "
    "{ login(email: $email, password: $password) { token errors { code } } }"
)


def assert_unauthenticated(result: dict) -> None:
    assert list(result["data"].values()) == [None], result
    assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"], result


async def create_customer(api, admin_token: str) -> uuid.UUID:
    result = data(
        await api.gql(
            'mutation { createCustomer(input: {externalId: "c1", email: "c1@example.com"}) '
            "{ customer { id } errors { code } } }",
            token=admin_token,
        )
    )
    customer_id = from_global_id(result["createCustomer"]["customer"]["id"], "Customer")
    assert customer_id is not None
    return customer_id


def flip(token: str, index: int) -> str:
    """`token` with one character changed."""
    char = token[index]
    return token[:index] + ("A" if char != "A" else "B") + token[index + 1 :]


async def test_a_valid_token_works(api):
    _, token = await api.staff(Role.MARKETER)
    assert data(await api.gql(ME, token=token)) == {"me": {"__typename": "Staff"}}


async def test_expired_token(api):
    staff_id, _ = await api.staff(Role.ADMIN)
    expired = TokenSigner(SECRET, staff_ttl=-10, customer_ttl=-10)
    assert_unauthenticated(await api.gql(ME, token=expired.issue(TokenKind.STAFF, staff_id, 0)))


async def test_expired_customer_token(api):
    _, admin = await api.staff(Role.ADMIN)
    customer_id = await create_customer(api, admin)
    expired = TokenSigner(SECRET, staff_ttl=-10, customer_ttl=-10)
    token = expired.issue(TokenKind.CUSTOMER, customer_id, 0)
    assert_unauthenticated(await api.gql(ME, token=token))
    assert data(await api.gql(ME, token=api.customer_token(customer_id)))  # a live one works


@pytest.mark.parametrize("segment", [0, 1, 2])
async def test_tampered_token(api, segment: int):
    _, token = await api.staff(Role.ADMIN)
    parts = token.split(".")
    start = sum(len(p) + 1 for p in parts[:segment])
    tampered = flip(token, start + len(parts[segment]) // 2)
    assert tampered != token
    assert_unauthenticated(await api.gql(ME, token=tampered))


async def test_token_signed_with_another_key(api):
    staff_id, _ = await api.staff(Role.ADMIN)
    other = TokenSigner("another-secret-key-" + "y" * 32, 3600, 3600)
    assert_unauthenticated(await api.gql(ME, token=other.issue(TokenKind.STAFF, staff_id, 0)))


def claims(subject: uuid.UUID, **overrides: object) -> dict:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "typ": "staff",
        "sub": str(subject),
        "ver": 0,
        "iat": now,
        "exp": now + 600,
        **overrides,
    }


@pytest.mark.parametrize(
    "overrides",
    [
        {"typ": "admin"},  # a kind we never issue
        {"iss": "someone-else"},
        {"ver": "zero"},
        {"sub": "not-a-uuid"},
        {"exp": None},
    ],
)
async def test_crafted_claims_with_the_right_key(api, overrides):
    staff_id, _ = await api.staff(Role.ADMIN)
    payload = {k: v for k, v in claims(staff_id, **overrides).items() if v is not None}
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    assert_unauthenticated(await api.gql(ME, token=token))


async def test_unsigned_token(api):
    staff_id, _ = await api.staff(Role.ADMIN)
    token = jwt.encode(claims(staff_id), None, algorithm="none")
    assert_unauthenticated(await api.gql(ME, token=token))


async def test_token_of_a_subject_that_does_not_exist(api):
    token = api.runtime.signer.issue(TokenKind.STAFF, uuid.uuid4(), 0)
    assert_unauthenticated(await api.gql(ME, token=token))
    assert_unauthenticated(await api.gql(ME, token=api.customer_token(uuid.uuid4())))


async def test_staff_token_after_logout(api):
    _, token = await api.staff(Role.AGENT)
    result = data(await api.gql("mutation { logout { ok errors { code } } }", token=token))
    assert result == {"logout": {"ok": True, "errors": []}}
    assert_unauthenticated(await api.gql(ME, token=token))


@pytest.mark.parametrize(
    "change", [{"role": "MARKETER"}, {"password": "a brand new passphrase"}, {"active": False}]
)
async def test_staff_token_after_an_admin_changes_the_member(api, change):
    _, admin = await api.staff(Role.ADMIN)
    staff_id, token = await api.staff(Role.AGENT)
    variables = {"input": {"id": to_global_id("Staff", staff_id), **change}}
    assert data(await api.gql(UPDATE_STAFF, variables, admin))["updateStaff"]["errors"] == []
    assert_unauthenticated(await api.gql(ME, token=token))


async def test_staff_token_after_changing_own_password(api):
    staff_id, token = await api.staff(Role.AUDITOR)
    variables = {"input": {"id": to_global_id("Staff", staff_id), "password": "fresh passphrase!"}}
    assert data(await api.gql(UPDATE_STAFF, variables, token))["updateStaff"]["errors"] == []
    assert_unauthenticated(await api.gql(ME, token=token))


async def test_deactivated_staff_cannot_log_in(api):
    _, admin = await api.staff(Role.ADMIN)
    staff_id, _ = await api.staff(Role.AGENT, email="gone@example.com")
    variables = {"input": {"id": to_global_id("Staff", staff_id), "active": False}}
    assert data(await api.gql(UPDATE_STAFF, variables, admin))["updateStaff"]["errors"] == []
    result = data(await api.gql(LOGIN, {"email": "gone@example.com", "password": PASSWORD}))
    assert result == {"login": {"token": None, "errors": [{"code": "INVALID_CREDENTIALS"}]}}


async def test_customer_token_after_revoke_customer_tokens(api):
    _, admin = await api.staff(Role.ADMIN)
    customer_id = await create_customer(api, admin)
    token = api.customer_token(customer_id)
    assert data(await api.gql(ME, token=token)) == {"me": {"__typename": "Customer"}}
    result = data(
        await api.gql(
            "mutation { revokeCustomerTokens { customer { id } errors { code } } }", token=token
        )
    )
    assert result["revokeCustomerTokens"]["errors"] == []
    assert_unauthenticated(await api.gql(ME, token=token))
    assert data(await api.gql(ME, token=api.customer_token(customer_id, version=1)))


async def test_revoked_api_key(api):
    _, admin = await api.staff(Role.ADMIN)
    key, secret = await api.runtime.services.api_keys.create(None, "backend", Role.ADMIN)
    assert data(await api.gql(ME, token=secret)) == {"me": {"__typename": "ApiKey"}}
    result = data(
        await api.gql(
            "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } errors { code } } }",
            {"id": to_global_id("ApiKey", key.id)},
            admin,
        )
    )
    assert result["revokeApiKey"]["errors"] == []
    assert_unauthenticated(await api.gql(ME, token=secret))
    assert_unauthenticated(await api.gql(ME, token=secret[:-1]))  # nor anything like it


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token abc.def.ghi",
        "Bearer a.b.c",
        "Bearer tdk_",
        "Bearer {token} extra",
        "{token}",  # no scheme
    ],
)
async def test_malformed_authorization_header(api, header: str):
    _, token = await api.staff(Role.ADMIN)
    response = await api.client.post(
        "/graphql", json={"query": ME}, headers={"Authorization": header.format(token=token)}
    )
    assert response.status_code == 200
    assert_unauthenticated(response.json())


async def test_no_token_is_unauthenticated(api):
    assert_unauthenticated(await api.gql(ME))


async def test_login_with_a_wrong_password(api):
    await api.staff(Role.ADMIN, email="boss@example.com")
    for email, password in [
        ("boss@example.com", "wrong password!"),
        ("nobody@example.com", PASSWORD),
    ]:
        result = data(await api.gql(LOGIN, {"email": email, "password": password}))
        assert result == {"login": {"token": None, "errors": [{"code": "INVALID_CREDENTIALS"}]}}


@pytest.mark.parametrize("bearer", [None, "garbage", "tdk_garbage"])
async def test_login_needs_no_token_and_ignores_a_bad_one(api, bearer):
    await api.staff(Role.ADMIN, email="boss@example.com")
    result = data(
        await api.gql(LOGIN, {"email": "Boss@Example.com", "password": PASSWORD}, token=bearer)
    )
    assert result["login"]["errors"] == []
    token = result["login"]["token"]
    assert data(await api.gql(ME, token=token)) == {"me": {"__typename": "Staff"}}
