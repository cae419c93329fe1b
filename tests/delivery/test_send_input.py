"""send's input is checked before anything is looked up, and an idempotency key compares the
audience as a set: bad input is a clean user error, a reordered retry is the same request."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict

import pytest

from tests.conftest import data
from tests.delivery.support import SEND, create_category, create_customer, raw_id, rows
from tests.sql_statements import statement_log
from tidings.core.delivery.send_request import MAX_HTML, SendRequest
from tidings.core.enums import Role
from tidings.core.models.messages import Message


async def setup(api, customers: int = 3):
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "receipts", "TRANSACTIONAL", defaultChannels=["in_app"])
    ids = [(await create_customer(api, admin))["id"] for _ in range(customers)]
    return admin, ids


def send_vars(key: str, to: dict, **content: str) -> dict:
    return {
        "i": {
            "idempotencyKey": key,
            "category": "receipts",
            "to": to,
            "content": {"title": "Hello", "body": "World", **content},
        }
    }


async def send(api, token: str, variables: dict) -> dict:
    return data(await api.gql(SEND, variables, token))["send"]


def error_of(payload: dict) -> tuple[str, str]:
    assert payload["message"] is None
    assert len(payload["errors"]) == 1, payload["errors"]
    error = payload["errors"][0]
    assert error["message"]
    return error["code"], error["field"]


# Item 7: every check of the input alone runs before the idempotency lookup -----------------


async def test_an_idempotency_key_over_255_characters_is_too_long(api):
    admin, customers = await setup(api, 1)
    with statement_log() as log:
        payload = await send(api, admin, send_vars("k" * 256, {"customerId": customers[0]}))
    assert error_of(payload) == ("TOO_LONG", "idempotencyKey")
    assert "messages" not in log.tables()  # refused before the lookup by key
    assert await Message.all().count() == 0
    # 255 is the limit, inclusive.
    assert (await send(api, admin, send_vars("k" * 255, {"customerId": customers[0]})))["message"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"idempotencyKey": "  "}, ("REQUIRED", "idempotencyKey")),
        ({"channels": []}, ("REQUIRED", "channels")),
        ({"channels": ["pigeon"]}, ("UNKNOWN_CHANNEL", "channels")),
        ({"content": {"title": "t" * 501, "body": "b"}}, ("TOO_LONG", "content.title")),
        ({"content": {"title": "t", "body": "b" * (64 * 1024 + 1)}}, ("TOO_LONG", "content.body")),
        ({"data": [1, 2]}, ("INVALID_JSON", "data")),
        ({"to": {"customerIds": []}}, ("REQUIRED", "to.customerIds")),
        ({"scheduleAt": "9999-12-31T23:59:59-14:00"}, ("INVALID_DATETIME", "scheduleAt")),
    ],
)
async def test_bad_input_is_refused_before_any_message_is_read(api, change, expected):
    admin, customers = await setup(api, 1)
    variables = send_vars("bad-input", {"customerId": customers[0]})
    variables["i"].update(change)
    with statement_log() as log:
        payload = await send(api, admin, variables)
    assert error_of(payload) == expected
    assert "messages" not in log.tables()


async def test_bad_input_with_a_used_key_is_the_input_error_not_a_conflict(api):
    """Checked before the lookup: the caller learns what is wrong with its input."""
    admin, customers = await setup(api, 1)
    to = {"customerId": customers[0]}
    assert (await send(api, admin, send_vars("used", to)))["message"]
    payload = await send(api, admin, send_vars("used", to, title="t" * 501))
    assert error_of(payload) == ("TOO_LONG", "content.title")


# Item 9: content.html has a limit, as body does --------------------------------------------


async def test_content_html_over_256_kib_is_too_long(api):
    admin, customers = await setup(api, 1)
    assert MAX_HTML == 256 * 1024
    to = {"customerId": customers[0]}
    payload = await send(api, admin, send_vars("html-big", to, html="<p>" + "x" * MAX_HTML))
    assert error_of(payload) == ("TOO_LONG", "content.html")
    assert await Message.all().count() == 0
    exact = "x" * MAX_HTML
    message = (await send(api, admin, send_vars("html-ok", to, html=exact)))["message"]
    assert (await Message.get(id=raw_id(message["id"]))).html == exact


# Item 12: the audience is compared as a set --------------------------------------------------


async def test_reordered_or_repeated_customer_ids_are_the_same_request(api):
    admin, customers = await setup(api)
    first = await send(api, admin, send_vars("set-1", {"customerIds": customers}))
    assert first["errors"] == []
    for retry in (customers[::-1], [*customers, customers[0]], [customers[1], *customers]):
        again = await send(api, admin, send_vars("set-1", {"customerIds": retry}))
        assert again["errors"] == [], retry
        assert again["message"]["id"] == first["message"]["id"]
    assert await Message.all().count() == 1
    assert len(await rows(first["message"])) == len(customers)


async def test_one_customer_as_customer_id_or_a_list_of_one_is_the_same_request(api):
    admin, customers = await setup(api, 1)
    first = await send(api, admin, send_vars("one", {"customerId": customers[0]}))
    again = await send(api, admin, send_vars("one", {"customerIds": [customers[0]] * 2}))
    assert again["message"]["id"] == first["message"]["id"]


async def test_another_audience_with_the_same_key_still_conflicts(api):
    admin, customers = await setup(api)
    assert (await send(api, admin, send_vars("set-2", {"customerIds": customers[:2]})))["message"]
    for other in (customers[:1], customers, [customers[0], customers[2]]):
        payload = await send(api, admin, send_vars("set-2", {"customerIds": other}))
        assert error_of(payload) == ("IDEMPOTENCY_CONFLICT", "idempotencyKey")


def ordered_fingerprint(request: SendRequest) -> str:
    """The fingerprint as it was computed before the audience became a set: the customer ids
    in the order (and with the repeats) the caller gave."""
    payload = asdict(request)
    payload.pop("idempotency_key")
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


async def test_a_message_stored_with_an_ordered_fingerprint_still_matches_its_retries(api):
    """Messages recorded before this change keep their ordered hash: a retry of the same
    request, in the same order or any other, is still that message, not a conflict."""
    admin, customers = await setup(api)
    given = [customers[2], customers[0], customers[2], customers[1]]
    first = await send(api, admin, send_vars("legacy", {"customerIds": given}))
    message = await Message.get(id=raw_id(first["message"]["id"]))
    legacy = SendRequest(
        idempotency_key="legacy",
        category="receipts",
        customer_ids=tuple(raw_id(cid) for cid in given),
        title="Hello",
        body="World",
    )
    # What the message would hold had it been recorded before the change.
    await Message.filter(id=message.id).update(request_hash=ordered_fingerprint(legacy))
    for retry in (given, customers, customers[::-1]):
        again = await send(api, admin, send_vars("legacy", {"customerIds": retry}))
        assert again["errors"] == [], retry
        assert again["message"]["id"] == first["message"]["id"]
    other = await send(api, admin, send_vars("legacy", {"customerIds": customers[:2]}))
    assert error_of(other) == ("IDEMPOTENCY_CONFLICT", "idempotencyKey")
    changed = await send(api, admin, send_vars("legacy", {"customerIds": given}, title="Hi"))
    assert error_of(changed) == ("IDEMPOTENCY_CONFLICT", "idempotencyKey")


# A customer that is not there (never was, or erased) --------------------------------------


@pytest.mark.parametrize("schedule", [None, "2999-01-01T00:00:00Z"])
async def test_a_send_naming_a_missing_customer_stores_and_audits_nothing(api, schedule):
    """Sent now, the check is the recipients' own query inside the transaction; scheduled, a
    lookup before it. Either way: NOT_FOUND on `to`, no message, no delivery, no entry."""
    from tidings.core.models import AuditEntry, Delivery
    from tidings.schema.ids import to_global_id

    admin, customers = await setup(api, 1)
    missing = to_global_id("Customer", uuid.uuid4())
    variables = send_vars("missing", {"customerIds": [customers[0], missing]})
    if schedule is not None:
        variables["i"]["scheduleAt"] = schedule
    sends = await AuditEntry.filter(action="message.send").count()
    assert error_of(await send(api, admin, variables)) == ("NOT_FOUND", "to")
    assert await Message.all().count() == 0
    assert await Delivery.all().count() == 0
    assert await AuditEntry.filter(action="message.send").count() == sends
    # The same key with the customer that exists is a fresh send, not a conflict.
    variables["i"]["to"] = {"customerIds": [customers[0]]}
    assert (await send(api, admin, variables))["message"]
