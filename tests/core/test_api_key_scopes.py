"""API key scopes and expiry (core/scopes.py, core/services/api_keys.py): the table covers
every root operation, a scoped key calls only what its scopes cover and never more than its
role, an expired key is nobody, and `apiKeys` shows all of it."""

from __future__ import annotations

import dataclasses
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import data
from tests.core.support import admin, create_category, create_customer, only_error
from tidings.api.auth import Authenticator
from tidings.core.enums import Role
from tidings.core.errors import ForbiddenError
from tidings.core.live.callers import CallerCheck
from tidings.core.models import ApiKey, AuditEntry
from tidings.core.scopes import ANY_KEY, NO_KEY, OPERATION_SCOPES, SCOPES, allows
from tidings.core.services.api_keys import ApiKeyService
from tidings.core.viewer import Viewer, ViewerKind
from tidings.schema import build_schema
from tidings.schema.permissions import Authenticated, CustomersOnly

CREATE_KEY = """
mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
  apiKey { id scopes expiresAt lastUsedAt } secret errors { code field message } } }
"""
API_KEYS = "{ apiKeys(first: 10) { nodes { id name scopes expiresAt lastUsedAt } } }"
CUSTOMERS = "{ customers(first: 5) { nodes { id } } }"
CREATE_CUSTOMER = (
    'mutation { createCustomer(input: {externalId: "scoped"}) { customer { id } errors { code } } }'
)
ME = "{ me { ... on ApiKey { id name } } }"
CATEGORIES = "{ categories { key } }"
SEND = """
mutation($c: ID!) { send(input: {idempotencyKey: "k1", category: "orders", to: {customerId: $c},
  content: {title: "Hi", body: "There"}}) { message { id } errors { code } } }
"""


def _roots() -> set[str]:
    schema = build_schema()
    names: set[str] = set()
    for type_name in ("Query", "Mutation", "Subscription"):
        names |= set(schema._schema.get_type(type_name).fields)  # type: ignore[union-attr]
    return names


def test_the_table_names_every_root_field_and_nothing_else():
    assert set(OPERATION_SCOPES) == _roots()
    assert set(OPERATION_SCOPES.values()) <= {*SCOPES, ANY_KEY, NO_KEY}
    assert set(SCOPES) <= set(OPERATION_SCOPES.values())  # no scope covers nothing


def test_every_root_field_but_login_has_a_gate_that_checks_scopes():
    schema = build_schema()
    for type_name in ("Query", "Mutation", "Subscription"):
        for field in schema.get_type_by_name(type_name).fields:  # type: ignore[union-attr]
            name = schema.config.name_converter.get_graphql_name(field)
            if name == "login":
                continue
            gates = field.permission_classes
            assert gates, name
            assert all(
                gate is Authenticated
                or gate is CustomersOnly
                or gate.__name__.startswith("StaffRoles_")
                for gate in gates
            ), name


@pytest.mark.parametrize("operation", sorted(OPERATION_SCOPES))
def test_allows_reads_the_table(operation):
    needed = OPERATION_SCOPES[operation]
    assert allows(None, operation) is True  # no scopes: the role decides alone
    others = frozenset(SCOPES) - {needed}
    if needed == ANY_KEY:
        assert allows(frozenset({"send"}), operation)
    elif needed == NO_KEY:
        assert not allows(frozenset(SCOPES), operation)
    else:
        assert allows(frozenset({needed}), operation)
        assert not allows(others, operation)


def test_an_operation_missing_from_the_table_is_refused_to_scoped_keys():
    assert not allows(frozenset(SCOPES), "someFutureOperation")
    assert allows(None, "someFutureOperation")


async def _key(api, token, role="ADMIN", **fields) -> dict:
    variables = {"input": {"name": f"k-{secrets.token_hex(3)}", "role": role, **fields}}
    return data(await api.gql(CREATE_KEY, variables, token))["createApiKey"]


def _code(result: dict) -> str | None:
    errors = result.get("errors")
    return errors[0]["extensions"]["code"] if errors else None


async def test_a_scoped_key_calls_only_what_its_scopes_cover(api):
    _, token = await admin(api)
    await create_category(api, token, "orders", kind="TRANSACTIONAL", defaultChannels=["in_app"])
    customer = await create_customer(api, token)
    reader = (await _key(api, token, scopes=["customers:read"]))["secret"]
    assert data(await api.gql(CUSTOMERS, token=reader))["customers"]["nodes"]
    assert data(await api.gql(ME, token=reader))["me"]["id"]
    assert data(await api.gql(CATEGORIES, token=reader))["categories"] == [{"key": "orders"}]
    for document, variables in ((CREATE_CUSTOMER, None), (SEND, {"c": customer["id"]})):
        refused = await api.gql(document, variables, reader)
        assert _code(refused) == "FORBIDDEN"
        assert "scopes" in refused["errors"][0]["message"]
        assert refused["data"] is None or all(v is None for v in refused["data"].values())
    node = await api.gql("query($id: ID!) { node(id: $id) { id } }", {"id": customer["id"]}, reader)
    assert _code(node) == "FORBIDDEN"

    # Two scopes: both operations. Partial results still come back for the covered field.
    both = (await _key(api, token, scopes=["send", "customers:read"]))["secret"]
    sent = data(await api.gql(SEND, {"c": customer["id"]}, both))["send"]
    assert sent["errors"] == [] and sent["message"]["id"]
    mixed = await api.gql(
        "{ customers(first: 1) { nodes { id } } apiKeys(first: 1) { nodes { id } } }", token=both
    )
    assert mixed["data"]["customers"]["nodes"] and mixed["data"]["apiKeys"] is None
    assert [e["path"] for e in mixed["errors"]] == [["apiKeys"]]


async def test_a_key_without_scopes_keeps_its_role_s_full_power(api):
    _, token = await admin(api)
    created = await _key(api, token)
    assert created["apiKey"]["scopes"] is None and created["apiKey"]["expiresAt"] is None
    made = data(await api.gql(CREATE_CUSTOMER, token=created["secret"]))["createCustomer"]
    assert made["errors"] == []


async def test_a_scope_never_widens_the_role(api):
    _, token = await admin(api)
    marketer = await _key(api, token, role="MARKETER", scopes=["admin", "customers:write"])
    assert marketer["errors"] == []
    refused = await api.gql(CREATE_CUSTOMER, token=marketer["secret"])
    assert _code(refused) == "FORBIDDEN"
    assert "role" in refused["errors"][0]["message"]


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"scopes": ["send", "launch:missiles"]}, "UNKNOWN_SCOPE", "scopes"),
        ({"scopes": []}, "NO_SCOPES", "scopes"),
        ({"expiresAt": "2020-01-01T00:00:00Z"}, "INVALID_TIME", "expiresAt"),
    ],
)
async def test_bad_scopes_or_expiry_are_user_errors(api, fields, code, field):
    _, token = await admin(api)
    payload = await _key(api, token, **fields)
    assert payload["apiKey"] is None and payload["secret"] is None
    error = only_error(payload)
    assert (error["code"], error["field"]) == (code, field)
    assert await ApiKey.all().count() == 0


async def test_an_expired_key_is_unauthenticated_and_listed_with_its_expiry(api):
    _, token = await admin(api)
    soon = datetime.now(UTC) + timedelta(days=1)
    created = await _key(api, token, expiresAt=soon.isoformat(), scopes=["customers:read", "send"])
    assert created["errors"] == []
    secret = created["secret"]
    assert data(await api.gql(CUSTOMERS, token=secret))["customers"] is not None
    listed = data(await api.gql(API_KEYS, token=token))["apiKeys"]["nodes"]
    [row] = [k for k in listed if k["id"] == created["apiKey"]["id"]]
    assert row["scopes"] == ["customers:read", "send"]  # sorted, as stored
    assert row["expiresAt"].startswith(soon.strftime("%Y-%m-%dT%H:%M"))
    assert row["lastUsedAt"] is not None  # it was just used

    key = await ApiKey.get(prefix=secret[:12])
    key.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    await key.save(update_fields=["expires_at"])
    assert _code(await api.gql(CUSTOMERS, token=secret)) == "UNAUTHENTICATED"
    assert await ApiKeyService().authenticate(secret) is None


async def test_creating_a_key_is_audited_with_its_scopes_and_expiry(api):
    admin_id, token = await admin(api)
    when = datetime(2030, 1, 1, tzinfo=UTC)
    created = await _key(api, token, scopes=["send"], expiresAt=when.isoformat())
    entry = await AuditEntry.filter(action="api_key.create").get()
    assert entry.actor_kind == "staff" and entry.actor_id == admin_id
    key = await ApiKey.get(prefix=created["secret"][:12])
    assert entry.targets == {"api_key": str(key.id)}
    assert entry.detail == {"role": "ADMIN", "scopes": ["send"], "expiresAt": when.isoformat()}


async def test_the_service_refuses_non_admins(db):
    marketer = Viewer(ViewerKind.STAFF, id=uuid.uuid4(), role=Role.MARKETER)
    with pytest.raises(ForbiddenError):
        await ApiKeyService().create(marketer, "k", Role.MARKETER, ["send"])


async def test_a_live_caller_holding_a_key_ends_when_the_key_expires(api):
    """The authenticator gives the key's viewer its expiry, which the per-event re-check of a
    websocket (core/live/callers.py) compares with the clock."""
    _, token = await admin(api)
    soon = datetime.now(UTC) + timedelta(hours=1)
    created = await _key(api, token, scopes=["messages:read"], expiresAt=soon.isoformat())
    authenticator = Authenticator(api.runtime.signer, api.runtime.services.api_keys)
    viewer = await authenticator.authenticate(f"Bearer {created['secret']}")
    assert viewer is not None
    assert viewer.scopes == frozenset({"messages:read"})
    assert viewer.expires_at == int(soon.timestamp())
    checks = CallerCheck()
    assert await checks.recheck(viewer) is not None
    assert (
        await checks.recheck(dataclasses.replace(viewer, expires_at=int(time.time()) - 1)) is None
    )
