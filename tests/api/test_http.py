"""The HTTP surface: body size, methods and content types, GraphiQL and introspection by
environment, error masking, CORS, health, and the settings that govern them."""

from __future__ import annotations

import contextlib
import logging
import stat
from collections.abc import AsyncIterator

import httpx
import pytest
import strawberry
from graphql import GraphQLError

from tests.api.test_encryption_settings import PRODUCTION_KEYS
from tests.conftest import SECRET, data, make_settings
from tidings.api.app import create_app
from tidings.api.settings import Secret, Settings, SettingsError
from tidings.core.enums import Role
from tidings.core.models import Customer
from tidings.schema import TidingsSchema
from tidings.schema.errors import ForbiddenGraphQLError
from tidings.schema.extensions.safe_errors import MaskUnexpectedErrors, is_public

MIB = 1024 * 1024
CREATE = 'mutation { createCustomer(input: {externalId: "http"}) { errors { code } } }'


@contextlib.asynccontextmanager
async def client_for(db: str, **overrides: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(db, **overrides), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def padded(query: str, size: int) -> bytes:
    """A JSON body of exactly `size` bytes: the query, then a GraphQL comment."""
    head = '{"query": "' + query.replace('"', '\\"') + " #"
    tail = '"}'
    body = head + "x" * (size - len(head) - len(tail)) + tail
    assert len(body) == size
    return body.encode()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# Request body size ----------------------------------------------------------------------


async def test_body_over_one_mib_is_refused_and_changes_nothing(api):
    _, token = await api.staff(Role.ADMIN)
    headers = {**auth(token), "content-type": "application/json"}
    response = await api.client.post("/graphql", content=padded(CREATE, MIB + 1), headers=headers)
    assert response.status_code == 413
    assert response.request.headers["content-length"] == str(MIB + 1)
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_LIMIT"
    assert await Customer.all().count() == 0
    # The same mutation at exactly the limit goes through.
    response = await api.client.post("/graphql", content=padded(CREATE, MIB), headers=headers)
    assert response.status_code == 200
    assert data(response.json())["createCustomer"]["errors"] == []
    assert await Customer.all().count() == 1


async def test_streamed_body_without_length_is_refused_and_changes_nothing(api):
    _, token = await api.staff(Role.ADMIN)
    body = padded(CREATE, 2 * MIB)

    async def chunks():
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = await api.client.post(
        "/graphql", content=chunks(), headers={**auth(token), "content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert await Customer.all().count() == 0


async def test_body_limit_follows_settings(db, api):
    _, token = await api.staff(Role.ADMIN)
    body = padded(CREATE, 2000)
    headers = {**auth(token), "content-type": "application/json"}
    async with client_for(db, TIDINGS_MAX_BODY_BYTES="1999") as client:
        assert (await client.post("/graphql", content=body, headers=headers)).status_code == 413
    assert (await api.client.post("/graphql", content=body, headers=headers)).status_code == 200


# Methods and content types -----------------------------------------------------------------


async def test_get_refuses_mutations_and_queries(api):
    _, token = await api.staff(Role.ADMIN)
    json_accept = {**auth(token), "accept": "application/json"}
    mutation = await api.client.get("/graphql", params={"query": CREATE}, headers=json_accept)
    assert mutation.status_code == 400
    assert await Customer.all().count() == 0
    # Queries in URLs end up in access logs: GET serves GraphiQL only.
    query = await api.client.get(
        "/graphql", params={"query": "{ customers { edges { cursor } } }"}, headers=json_accept
    )
    assert query.status_code == 400


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(
            lambda body: {"content": body, "headers": {"content-type": "text/plain"}},
            id="text-plain",
        ),
        pytest.param(lambda body: {"data": {"query": CREATE}}, id="form-urlencoded"),
        pytest.param(
            lambda body: {"files": {"operations": (None, body), "map": (None, "{}")}},
            id="multipart",
        ),
        pytest.param(lambda body: {"content": body}, id="no-content-type"),
    ],
)
async def test_non_json_bodies_are_refused(api, send):
    """text/plain, forms and multipart are what a cross-site form may send without CORS."""
    _, token = await api.staff(Role.ADMIN)
    body = '{"query": "' + CREATE.replace('"', '\\"') + '"}'
    kwargs = send(body)
    kwargs["headers"] = {**kwargs.get("headers", {}), **auth(token)}
    response = await api.client.post("/graphql", **kwargs)
    assert 400 <= response.status_code < 500
    assert await Customer.all().count() == 0
    # The same body as JSON is accepted.
    ok = await api.client.post(
        "/graphql", content=body, headers={**auth(token), "content-type": "application/json"}
    )
    assert data(ok.json())["createCustomer"]["errors"] == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ __typename }"',  # truncated
        b'{"query": "\x80"}',  # not UTF-8
        b'{"query": "{ __typename }", "variables": {"a": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}}",
        b"[]",
        b'{"query": 5}',
    ],
    ids=["truncated", "not-utf8", "nested-past-recursion-limit", "batch", "query-not-string"],
)
async def test_malformed_json_is_a_400(api, body):
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


# GraphiQL and introspection ----------------------------------------------------------------

INTROSPECT = "{ __schema { queryType { name } } }"


async def test_graphiql_and_introspection_in_development(api):
    page = await api.client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "graphiql" in page.text.lower()
    assert data(await api.gql(INTROSPECT)) == {"__schema": {"queryType": {"name": "Query"}}}


async def test_no_graphiql_and_no_introspection_in_production(db):
    async with client_for(db, TIDINGS_ENV="production") as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 404
        assert "graphiql" not in page.text.lower()
        for query in (INTROSPECT, '{ __type(name: "Customer") { name } }'):
            result = (await client.post("/graphql", json={"query": query})).json()
            assert result["data"] is None
            assert "introspection has been disabled" in result["errors"][0]["message"]
        # __typename is not introspection and stays available.
        typename = await client.post("/graphql", json={"query": "{ __typename }"})
        assert data(typename.json()) == {"__typename": "Query"}


# Errors ----------------------------------------------------------------------------------------


async def test_our_coded_errors_reach_clients(api):
    _, marketer = await api.staff(Role.MARKETER)
    cases = [
        ("{ customers { edges { cursor } } }", None, "UNAUTHENTICATED"),
        ("{ customers { edges { cursor } } }", "not-a-token", "UNAUTHENTICATED"),
        (CREATE, marketer, "FORBIDDEN"),
        ('{ customers(after: "garbage") { edges { cursor } } }', marketer, "BAD_USER_INPUT"),
        ("{ customers(first: 101) { edges { cursor } } }", marketer, "QUERY_LIMIT"),
    ]
    for query, token, code in cases:
        result = await api.gql(query, None, token)
        assert result["errors"][0]["extensions"]["code"] == code, (query, result)
        assert result["errors"][0]["message"] != "Unexpected error."
    unknown = await api.gql("{ noSuchField }")
    assert "noSuchField" in unknown["errors"][0]["message"]


async def test_out_of_range_datetime_is_a_user_error(api):
    """Once an OverflowError saving the row ("Unexpected error."): now a UserError."""
    _, token = await api.staff(Role.ADMIN)
    agent, _ = await api.staff(Role.AGENT)
    customer = data(
        await api.gql(
            'mutation { createCustomer(input: {externalId: "dt"}) { customer { id } } }',
            None,
            token,
        )
    )["createCustomer"]["customer"]["id"]
    from tidings.schema.ids import to_global_id

    result = await api.gql(
        "mutation($s: ID!, $c: ID!, $e: DateTime) { grantAccess(input: {staffId: $s, "
        "customerId: $c, actions: [READ], expiresAt: $e}) { errors { code field } } }",
        {"s": to_global_id("Staff", agent), "c": customer, "e": "9999-12-31T23:59:59-14:00"},
        token,
    )
    assert data(result)["grantAccess"]["errors"] == [
        {"code": "INVALID_DATETIME", "field": "expiresAt"}
    ]


PERSONAL = "jane" + "@example.com"  # built, so the traceback's source line cannot show it


@strawberry.type
class Exploding:
    @strawberry.field
    def boom(self) -> str:
        raise RuntimeError(f"{PERSONAL} broke it")

    @strawberry.field
    def denied(self) -> str:
        raise ForbiddenGraphQLError()


async def test_unexpected_errors_are_masked_and_logged_without_their_message(caplog):
    """No resolver of ours fails unexpectedly on purpose, so a small schema with a failing
    resolver runs through our schema class and masking extension, as the app's does."""
    schema = TidingsSchema(query=Exploding, extensions=[MaskUnexpectedErrors])
    with caplog.at_level(logging.ERROR, logger="tidings.graphql"):
        result = await schema.execute("{ boom }")
        denied = await schema.execute("{ denied }")
    assert [e.message for e in result.errors] == ["Unexpected error."]
    assert result.errors[0].path == ["boom"]
    assert result.errors[0].original_error is None
    assert PERSONAL not in caplog.text
    assert PERSONAL not in str(result.errors[0].formatted)
    assert "RuntimeError" in caplog.text  # logged by type and path, for the operator
    assert denied.errors[0].extensions == {"code": "FORBIDDEN"}
    assert denied.errors[0].message == "You may not perform this operation."


def test_is_public_tells_ours_from_unexpected():
    assert is_public(GraphQLError("Cannot query field 'x' on type 'Query'."))
    for code in ("UNAUTHENTICATED", "FORBIDDEN", "QUERY_LIMIT", "BAD_USER_INPUT"):
        assert is_public(GraphQLError("m", extensions={"code": code}, original_error=ValueError()))
    assert not is_public(GraphQLError("m", original_error=RuntimeError("x")))
    assert not is_public(
        GraphQLError("m", extensions={"code": "MADE_UP"}, original_error=KeyError())
    )


# CORS ------------------------------------------------------------------------------------------


def preflight(origin: str) -> dict:
    return {
        "headers": {
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        }
    }


async def test_cors_allows_any_origin_in_development(api):
    response = await api.client.options("/graphql", **preflight("https://anything.example"))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    post = await api.client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://x.example"}
    )
    assert post.headers["access-control-allow-origin"] == "*"


async def test_cors_in_production_allows_only_the_configured_origins(db):
    allowed, other = "https://app.example.com", "https://evil.example.com"
    async with client_for(db, TIDINGS_ENV="production", TIDINGS_ALLOWED_ORIGINS=allowed) as client:
        ok = await client.options("/graphql", **preflight(allowed))
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == allowed
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        refused = await client.options("/graphql", **preflight(other))
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
        post = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": other}
        )
        assert "access-control-allow-origin" not in post.headers
    async with client_for(db, TIDINGS_ENV="production") as client:
        none = await client.options("/graphql", **preflight(allowed))
        assert "access-control-allow-origin" not in none.headers


# Health ----------------------------------------------------------------------------------------


async def test_healthz(api):
    response = await api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# Settings --------------------------------------------------------------------------------------


def test_production_requires_a_secret_key(tmp_path):
    with pytest.raises(SettingsError, match="TIDINGS_SECRET_KEY"):
        Settings.load({"TIDINGS_ENV": "production"}, env_file=None, workdir=tmp_path)
    assert not (tmp_path / "tidings.secret").exists()
    settings = Settings.load(
        {
            "TIDINGS_ENV": "production",
            "TIDINGS_SECRET_KEY": SECRET,
            "TIDINGS_PUBLIC_URL": "https://notify.shop.example",
            **PRODUCTION_KEYS,
        },
        env_file=None,
        workdir=tmp_path,
    )
    assert settings.secret_key.reveal() == SECRET
    assert settings.allowed_origins == ()


def test_short_secret_key_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="32"):
        Settings.load({"TIDINGS_SECRET_KEY": "k" * 31}, env_file=None, workdir=tmp_path)
    assert Settings.load({"TIDINGS_SECRET_KEY": "k" * 32}, env_file=None, workdir=tmp_path)


def test_development_key_is_created_once_with_mode_0600_and_reused(tmp_path):
    first = Settings.load({}, env_file=None, workdir=tmp_path)
    path = tmp_path / "tidings.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.secret_key.reveal()) >= 32
    assert path.read_text().strip() == first.secret_key.reveal()
    second = Settings.load({}, env_file=None, workdir=tmp_path)
    assert second.secret_key == first.secret_key
    assert path.read_text().strip() == first.secret_key.reveal()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert Settings.load({}, env_file=None, workdir=elsewhere).secret_key != first.secret_key


def test_secrets_never_print(tmp_path):
    password = "smtp-password-" + "p" * 20
    settings = Settings.load(
        {"TIDINGS_SECRET_KEY": SECRET, "TIDINGS_SMTP_PASSWORD": password},
        env_file=None,
        workdir=tmp_path,
    )
    # Providers read their settings raw from plugin_config, which never prints either.
    assert settings.plugin_config["TIDINGS_SMTP_PASSWORD"] == password
    for shown in (
        repr(settings),
        str(settings),
        f"{settings}",
        f"{settings!r}",
        repr(settings.secret_key),
        str(settings.secret_key),
        f"{settings.secret_key}",
        str([settings.secret_key]),
    ):
        assert SECRET not in shown
        assert password not in shown
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
