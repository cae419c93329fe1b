"""The consent ledger through the API: grants, withdrawals, expiry, history and who recorded it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import data
from tests.core.support import admin, create_category, create_customer, only_error, raw_id
from tidings.core.enums import GrantStatus, Role
from tidings.core.models import PermissionEntry, PermissionState
from tidings.core.services.consent import GrantRequest
from tidings.core.services.staff import ApiKeyService
from tidings.core.viewer import Viewer, ViewerKind

GRANT_FIELDS = "id channel category status source grantedAt withdrawnAt expiresAt"

GRANT = f"""
mutation($input: GrantPermissionInput!) {{
  grantPermission(input: $input) {{
    grant {{ {GRANT_FIELDS} evidence recordedBy }}
    errors {{ code field message }}
  }}
}}
"""

WITHDRAW = f"""
mutation($input: WithdrawPermissionInput!) {{
  withdrawPermission(input: $input) {{
    grant {{ {GRANT_FIELDS} recordedBy }}
    errors {{ code field message }}
  }}
}}
"""

STATE = f"""
query($id: ID!, $first: Int, $after: String) {{
  customer(id: $id) {{
    permissionGrants {{ {GRANT_FIELDS} }}
    permissionHistory(first: $first, after: $after) {{
      edges {{ cursor node {{ {GRANT_FIELDS} evidence recordedBy }} }}
      pageInfo {{ hasNextPage hasPreviousPage endCursor }}
    }}
  }}
}}
"""


@pytest.fixture
async def setup(api):
    """An admin, a customer, and the categories `news` (MARKETING) and `orders`."""
    admin_id, token = await admin(api)
    customer = await create_customer(api, token, email="c@example.com")
    await create_category(api, token, "news")
    await create_category(api, token, "orders", "TRANSACTIONAL")
    return {"admin_id": admin_id, "token": token, "customer": customer["id"]}


async def grant(api, token, customer=None, **fields):
    fields = {"channel": "email", "category": "news", "source": "signup_form", **fields}
    if customer is not None:
        fields["customerId"] = customer
    return data(await api.gql(GRANT, {"input": fields}, token))["grantPermission"]


async def withdraw(api, token, customer=None, **fields):
    fields = {"channel": "email", "category": "news", "source": "preference_center", **fields}
    if customer is not None:
        fields["customerId"] = customer
    return data(await api.gql(WITHDRAW, {"input": fields}, token))["withdrawPermission"]


async def state(api, token, customer, first=50, after=None):
    variables = {"id": customer, "first": first, "after": after}
    return data(await api.gql(STATE, variables, token))["customer"]


def history(customer_state):
    return [edge["node"] for edge in customer_state["permissionHistory"]["edges"]]


async def test_grant_is_current_and_in_history(api, setup):
    payload = await grant(api, setup["token"], setup["customer"])
    assert payload["errors"] == []
    assert payload["grant"]["status"] == "GRANTED"
    assert payload["grant"]["grantedAt"] is not None
    assert payload["grant"]["withdrawnAt"] is None
    assert payload["grant"]["source"] == "signup_form"

    current = await state(api, setup["token"], setup["customer"])
    assert [(g["channel"], g["category"], g["status"]) for g in current["permissionGrants"]] == [
        ("email", "news", "GRANTED")
    ]
    assert [g["id"] for g in history(current)] == [payload["grant"]["id"]]


async def test_withdraw_keeps_when_consent_was_given(api, setup):
    granted = (await grant(api, setup["token"], setup["customer"]))["grant"]
    withdrawn = await withdraw(api, setup["token"], setup["customer"])
    assert withdrawn["errors"] == []
    assert withdrawn["grant"]["status"] == "WITHDRAWN"
    assert withdrawn["grant"]["withdrawnAt"] is not None
    assert withdrawn["grant"]["grantedAt"] == granted["grantedAt"]

    current = await state(api, setup["token"], setup["customer"])
    (only,) = current["permissionGrants"]
    assert only["status"] == "WITHDRAWN"
    assert only["grantedAt"] == granted["grantedAt"]
    assert only["withdrawnAt"] == withdrawn["grant"]["withdrawnAt"]
    # Newest first: the withdrawal, then the grant.
    assert [n["status"] for n in history(current)] == ["WITHDRAWN", "GRANTED"]
    assert [n["id"] for n in history(current)] == [withdrawn["grant"]["id"], granted["id"]]


async def test_withdraw_without_a_grant_records_the_refusal(api, setup):
    payload = await withdraw(api, setup["token"], setup["customer"], channel="sms")
    assert payload["errors"] == []
    assert payload["grant"]["status"] == "WITHDRAWN"
    assert payload["grant"]["grantedAt"] is None
    assert payload["grant"]["withdrawnAt"] is not None
    current = await state(api, setup["token"], setup["customer"])
    assert [(g["channel"], g["status"]) for g in current["permissionGrants"]] == [
        ("sms", "WITHDRAWN")
    ]
    assert len(history(current)) == 1


async def test_past_expiry_reads_expired_and_future_expiry_granted(api, setup):
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    expired = await grant(api, setup["token"], setup["customer"], expiresAt=past)
    assert expired["errors"] == []
    assert expired["grant"]["status"] == "EXPIRED"
    assert expired["grant"]["expiresAt"] is not None
    live = await grant(api, setup["token"], setup["customer"], channel="push", expiresAt=future)
    assert live["grant"]["status"] == "GRANTED"

    current = await state(api, setup["token"], setup["customer"])
    statuses = {g["channel"]: g["status"] for g in current["permissionGrants"]}
    assert statuses == {"email": "EXPIRED", "push": "GRANTED"}
    # The ledger stores what was given; EXPIRED is how it reads now.
    assert await PermissionEntry.filter(status=GrantStatus.GRANTED).count() == 2


async def test_regrant_after_withdraw(api, setup):
    await grant(api, setup["token"], setup["customer"])
    await withdraw(api, setup["token"], setup["customer"])
    again = await grant(api, setup["token"], setup["customer"], source="api")
    assert again["grant"]["status"] == "GRANTED"
    assert again["grant"]["withdrawnAt"] is None
    current = await state(api, setup["token"], setup["customer"])
    (only,) = current["permissionGrants"]
    assert (only["status"], only["source"], only["withdrawnAt"]) == ("GRANTED", "api", None)
    assert only["id"] == again["grant"]["id"]
    assert [n["status"] for n in history(current)] == ["GRANTED", "WITHDRAWN", "GRANTED"]


async def test_one_current_grant_per_channel_and_category(api, setup):
    token, customer = setup["token"], setup["customer"]
    await grant(api, token, customer)
    await withdraw(api, token, customer)
    await grant(api, token, customer)
    await grant(api, token, customer, channel="sms")
    await withdraw(api, token, customer, channel="push", category="orders")
    current = await state(api, token, customer)
    pairs = sorted((g["channel"], g["category"], g["status"]) for g in current["permissionGrants"])
    assert pairs == [
        ("email", "news", "GRANTED"),
        ("push", "orders", "WITHDRAWN"),
        ("sms", "news", "GRANTED"),
    ]
    assert len(history(current)) == 5
    assert await PermissionState.filter(customer_id=raw_id(customer)).count() == 3


async def test_history_pages_and_cursors_survive_new_entries(api, setup):
    token, customer = setup["token"], setup["customer"]
    ids = []
    for index in range(5):
        ids.append((await grant(api, token, customer, source=f"step{index}"))["grant"]["id"])
    newest_first = list(reversed(ids))

    first = (await state(api, token, customer, first=2))["permissionHistory"]
    assert [e["node"]["id"] for e in first["edges"]] == newest_first[:2]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]

    # A new event lands before the next page is read: the cursor still means the same place.
    await withdraw(api, token, customer)
    second = (await state(api, token, customer, 2, first["pageInfo"]["endCursor"]))[
        "permissionHistory"
    ]
    assert [e["node"]["id"] for e in second["edges"]] == newest_first[2:4]
    assert second["pageInfo"]["hasNextPage"] is True
    assert second["pageInfo"]["hasPreviousPage"] is True

    third = (await state(api, token, customer, 2, second["pageInfo"]["endCursor"]))[
        "permissionHistory"
    ]
    assert [e["node"]["id"] for e in third["edges"]] == newest_first[4:]
    assert third["pageInfo"]["hasNextPage"] is False


async def test_evidence_is_kept_with_the_grant(api, setup):
    evidence = {"ip": "203.0.113.7", "userAgent": "Mozilla/5.0", "notice": "v3"}
    payload = await grant(api, setup["token"], setup["customer"], evidence=evidence)
    assert payload["grant"]["evidence"] == evidence
    current = await state(api, setup["token"], setup["customer"])
    assert history(current)[0]["evidence"] == evidence
    entry = await PermissionEntry.get(id=raw_id(payload["grant"]["id"]))
    assert entry.evidence == evidence


async def test_recorded_by_names_the_caller(api, setup):
    customer = setup["customer"]
    by_staff = await grant(api, setup["token"], customer)
    assert by_staff["grant"]["recordedBy"] == f"staff:{setup['admin_id']}"

    customer_token = api.customer_token(raw_id(customer))
    by_customer = await grant(api, customer_token, channel="sms")
    assert by_customer["grant"]["recordedBy"] == f"customer:{raw_id(customer)}"

    key, secret = await ApiKeyService().create(None, "backend", Role.ADMIN)
    by_key = await withdraw(api, secret, customer, channel="push")
    assert by_key["errors"] == []
    assert by_key["grant"]["recordedBy"] == f"api_key:{key.id}"


async def test_customer_may_omit_customer_id_and_staff_may_not(api, setup):
    customer_token = api.customer_token(raw_id(setup["customer"]))
    mine = await grant(api, customer_token)
    assert mine["errors"] == []
    assert (await withdraw(api, customer_token))["grant"]["status"] == "WITHDRAWN"
    assert await PermissionEntry.filter(customer_id=raw_id(setup["customer"])).count() == 2

    before = await PermissionEntry.all().count()
    for payload in (await grant(api, setup["token"]), await withdraw(api, setup["token"])):
        assert payload["grant"] is None
        error = only_error(payload)
        assert (error["code"], error["field"]) == ("REQUIRED", "customerId")
    assert await PermissionEntry.all().count() == before


async def test_agent_with_access_may_withdraw_but_not_grant(api, setup):
    agent_id, agent_token = await api.staff(Role.AGENT)
    admin_viewer = Viewer(ViewerKind.STAFF, setup["admin_id"], Role.ADMIN)
    await api.runtime.services.access.grant(
        admin_viewer, agent_id, raw_id(setup["customer"]), ["READ", "REPLY"], None
    )
    withdrawn = await withdraw(api, agent_token, setup["customer"])
    assert withdrawn["errors"] == []
    assert withdrawn["grant"]["recordedBy"] == f"staff:{agent_id}"

    before = await PermissionEntry.all().count()
    result = await api.gql(
        GRANT,
        {
            "input": {
                "customerId": setup["customer"],
                "channel": "email",
                "category": "news",
                "source": "api",
            }
        },
        agent_token,
    )
    # Agents never grant for anyone: the role may not perform it at all.
    assert list(result["data"].values()) == [None]
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    assert await PermissionEntry.all().count() == before


@pytest.mark.parametrize("role", [Role.MARKETER, Role.AUDITOR])
async def test_other_roles_may_neither_grant_nor_withdraw(api, setup, role):
    _, token = await api.staff(role)
    for query, operation in ((GRANT, "grantPermission"), (WITHDRAW, "withdrawPermission")):
        variables = {
            "input": {
                "customerId": setup["customer"],
                "channel": "email",
                "category": "news",
                "source": "api",
            }
        }
        result = await api.gql(query, variables, token)
        assert list(result["data"].values()) == [None], operation
        assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    assert await PermissionEntry.all().count() == 0


async def test_agent_without_access_cannot_withdraw(api, setup):
    _, agent_token = await api.staff(Role.AGENT)
    payload = await withdraw(api, agent_token, setup["customer"])
    assert payload["grant"] is None
    assert only_error(payload)["code"] == "NOT_FOUND"
    assert await PermissionEntry.all().count() == 0


@pytest.mark.parametrize("operation", ["grant", "withdraw"])
@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"channel": "fax"}, "UNKNOWN_CHANNEL", "channel"),
        ({"category": "no-such-category"}, "UNKNOWN_CATEGORY", "category"),
        ({"source": "not a source!"}, "INVALID_SOURCE", "source"),
    ],
)
async def test_bad_input_leaves_the_ledger_unchanged(api, setup, operation, fields, code, field):
    await grant(api, setup["token"], setup["customer"])
    entries = await PermissionEntry.all().count()
    states = await PermissionState.all().values()
    run = grant if operation == "grant" else withdraw
    payload = await run(api, setup["token"], setup["customer"], **fields)
    assert payload["grant"] is None
    error = only_error(payload)
    assert (error["code"], error["field"]) == (code, field)
    assert await PermissionEntry.all().count() == entries
    assert await PermissionState.all().values() == states


async def test_unknown_customer_is_not_found(api, setup):
    payload = await grant(api, setup["token"], "not-an-id")
    assert only_error(payload)["code"] == "NOT_FOUND"
    payload = await grant(api, setup["token"], str(uuid.uuid4()))
    assert only_error(payload)["code"] == "NOT_FOUND"
    assert await PermissionEntry.all().count() == 0


async def test_ledger_is_append_only(api, setup):
    token, customer = setup["token"], setup["customer"]
    await grant(api, token, customer, evidence={"notice": "v1"})
    await withdraw(api, token, customer)
    snapshot = await PermissionEntry.all().order_by("id").values()
    await grant(api, token, customer, evidence={"notice": "v2"}, source="api")
    await withdraw(api, token, customer, source="api")
    await grant(api, token, customer, channel="sms")
    after = await PermissionEntry.all().order_by("id").values()
    assert len(after) == len(snapshot) + 3
    assert after[: len(snapshot)] == snapshot


async def test_concurrent_grants_land_and_leave_one_state_row(api, setup):
    consent = api.runtime.services.consent
    viewer = Viewer(ViewerKind.STAFF, setup["admin_id"], Role.ADMIN)
    customer_id = raw_id(setup["customer"])
    for round_ in range(3):
        channel = ("email", "sms", "push")[round_]
        entries = await asyncio.gather(
            *(
                consent.grant(viewer, customer_id, GrantRequest(channel, "news", f"src{n}"))
                for n in range(2)
            )
        )
        assert len({e.id for e in entries}) == 2
        assert await PermissionEntry.filter(channel=channel).count() == 2
        rows = await PermissionState.filter(customer_id=customer_id, channel=channel)
        assert len(rows) == 1
        # The current state is the newest ledger entry, folded in full.
        newest = max(entries, key=lambda e: e.id)
        assert (rows[0].entry_id, rows[0].source) == (newest.id, newest.source)


async def test_history_with_a_bad_cursor_is_a_clear_error(api, setup):
    await grant(api, setup["token"], setup["customer"])
    variables = {"id": setup["customer"], "first": 2, "after": "not-a-cursor"}
    result = await api.gql(STATE, variables, setup["token"])
    (error,) = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["reason"] == "INVALID_CURSOR"
    assert error["path"] == ["customer", "permissionHistory"]
