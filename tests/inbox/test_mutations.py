"""markRead, markAllRead and archive: all or nothing, on the caller's own notifications."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import data
from tests.inbox.support import (
    ARCHIVE,
    MARK_ALL_READ,
    MARK_READ,
    gid,
    ids_of,
    mutate,
    new_customer,
    page,
    states,
    store,
    unread,
)
from tidings.core.enums import Role
from tidings.schema.ids import to_global_id

BY_IDS = [MARK_READ, ARCHIVE]
BY_IDS_NAMES = ["markRead", "archive"]


async def test_mark_read(api):
    customer, token = await new_customer(api)
    ids = await store(customer, 3)
    payload = await mutate(api, token, MARK_READ, [gid(ids[0]), gid(ids[2])])
    assert payload == {"unreadCount": 1, "errors": []}
    assert await unread(api, token) == 1
    nodes = {e["node"]["id"]: e["node"]["readAt"] for e in (await page(api, token))["edges"]}
    assert nodes[gid(ids[0])] and nodes[gid(ids[2])] and nodes[gid(ids[1])] is None
    only_unread = await page(api, token, unreadOnly=True)
    assert ids_of(only_unread) == [gid(ids[1])]


async def test_mark_read_keeps_the_first_read_time_and_takes_duplicates(api):
    customer, token = await new_customer(api)
    ids = await store(customer, 2)
    await mutate(api, token, MARK_READ, [gid(ids[0])])
    first = await states(ids)
    again = await mutate(api, token, MARK_READ, [gid(ids[0]), gid(ids[0]), gid(ids[1])])
    assert again == {"unreadCount": 0, "errors": []}
    after = await states(ids)
    assert after[ids[0]] == first[ids[0]]
    assert after[ids[1]][0] is not None
    assert await mutate(api, token, MARK_READ, [gid(ids[1])]) == {"unreadCount": 0, "errors": []}
    assert await states(ids) == after


async def test_raw_uuids_are_accepted_too(api):
    customer, token = await new_customer(api)
    ids = await store(customer, 1)
    assert await mutate(api, token, MARK_READ, [str(ids[0])]) == {"unreadCount": 0, "errors": []}


async def test_mark_all_read(api):
    customer, token = await new_customer(api)
    other, other_token = await new_customer(api)
    ids = await store(customer, 3)
    await store(customer, 1, read=True)
    archived = await store(customer, 1, archived=True)
    theirs = await store(other, 2)
    assert await mutate(api, token, MARK_ALL_READ) == {"unreadCount": 0, "errors": []}
    found = await states(ids + archived + theirs)
    assert all(found[i][0] is not None for i in ids)
    assert found[archived[0]][0] is None  # out of the inbox: left as it was
    assert all(found[i] == (None, None) for i in theirs)
    assert await unread(api, other_token) == 2
    assert await mutate(api, token, MARK_ALL_READ) == {"unreadCount": 0, "errors": []}
    assert await states(ids) == {i: found[i] for i in ids}


async def test_archive(api):
    customer, token = await new_customer(api)
    ids = await store(customer, 3)
    payload = await mutate(api, token, ARCHIVE, [gid(ids[1])])
    assert payload == {"unreadCount": 2, "errors": []}
    assert ids_of(await page(api, token)) == [gid(ids[2]), gid(ids[0])]
    assert ids_of(await page(api, token, unreadOnly=True)) == [gid(ids[2]), gid(ids[0])]
    archived_at = (await states(ids))[ids[1]][1]
    assert archived_at is not None
    # Archiving again changes nothing; a read one archived leaves the unread count alone.
    await mutate(api, token, MARK_READ, [gid(ids[0])])
    payload = await mutate(api, token, ARCHIVE, [gid(ids[1]), gid(ids[0])])
    assert payload == {"unreadCount": 1, "errors": []}
    assert (await states(ids))[ids[1]][1] == archived_at
    assert ids_of(await page(api, token)) == [gid(ids[2])]


async def test_an_archived_notification_may_still_be_marked_read(api):
    customer, token = await new_customer(api)
    ids = await store(customer, 1, archived=True)
    assert await mutate(api, token, MARK_READ, [gid(ids[0])]) == {"unreadCount": 0, "errors": []}
    assert (await states(ids))[ids[0]][0] is not None


@pytest.mark.parametrize("document", BY_IDS, ids=BY_IDS_NAMES)
async def test_someone_elses_is_not_found_and_nothing_changes(api, document):
    customer, token = await new_customer(api)
    other, _ = await new_customer(api)
    mine = await store(customer, 2)
    theirs = await store(other, 1)
    before = await states(mine + theirs)
    payload = await mutate(api, token, document, [gid(mine[0]), gid(theirs[0]), gid(mine[1])])
    assert payload["unreadCount"] == 2
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "ids")]
    assert await states(mine + theirs) == before


@pytest.mark.parametrize("document", BY_IDS, ids=BY_IDS_NAMES)
@pytest.mark.parametrize(
    "bad",
    [
        "not-an-id",
        "",
        base64.b64encode(b"Notification:not-a-uuid").decode(),
        "00000000-0000-7000-8000-000000000000",  # well formed, but no such row
    ],
    ids=["garbage", "empty", "bad-uuid", "nonexistent"],
)
async def test_malformed_or_unknown_ids_are_not_found(api, document, bad):
    customer, token = await new_customer(api)
    ids = await store(customer, 1)
    payload = await mutate(api, token, document, [gid(ids[0]), bad])
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "ids")]
    assert payload["unreadCount"] == 1
    assert await states(ids) == {ids[0]: (None, None)}


@pytest.mark.parametrize("document", BY_IDS, ids=BY_IDS_NAMES)
async def test_another_types_id_is_not_found(api, document):
    customer, token = await new_customer(api)
    await store(customer, 1)
    # The customer's own id, as a Customer: a real row, but not a notification.
    payload = await mutate(api, token, document, [to_global_id("Customer", customer)])
    assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"]


@pytest.mark.parametrize("document", BY_IDS, ids=BY_IDS_NAMES)
async def test_too_many_ids(api, document):
    customer, token = await new_customer(api)
    ids = await store(customer, 101)
    payload = await mutate(api, token, document, [gid(i) for i in ids])
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("TOO_MANY", "ids")]
    assert payload["unreadCount"] == 101
    assert await unread(api, token) == 101
    exactly = await mutate(api, token, document, [gid(i) for i in ids[:100]])
    assert exactly == {"unreadCount": 1, "errors": []}


@pytest.mark.parametrize("document", BY_IDS, ids=BY_IDS_NAMES)
async def test_no_ids_change_nothing(api, document):
    customer, token = await new_customer(api)
    await store(customer, 2)
    assert await mutate(api, token, document, []) == {"unreadCount": 2, "errors": []}


@pytest.mark.parametrize(
    ("document", "ids"),
    [(MARK_READ, True), (MARK_ALL_READ, False), (ARCHIVE, True)],
    ids=["markRead", "markAllRead", "archive"],
)
async def test_staff_and_api_keys_are_forbidden_and_change_nothing(api, document, ids):
    customer, _ = await new_customer(api)
    stored = await store(customer, 1)
    variables = {"ids": [gid(stored[0])]} if ids else {}
    for role in Role:
        _, token = await api.staff(role)
        _, secret = await api.runtime.services.api_keys.create(None, f"k-{role.value}", role)
        for caller in (token, secret):
            result = await api.gql(document, variables, caller)
            assert list(result["data"].values()) == [None], result
            assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    for caller in (None, "not-a-token"):
        result = await api.gql(document, variables, caller)
        assert list(result["data"].values()) == [None], result
        assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]
    assert await states(stored) == {stored[0]: (None, None)}


async def test_the_payload_count_is_the_callers_own(api):
    customer, token = await new_customer(api)
    other, other_token = await new_customer(api)
    await store(customer, 1)
    theirs = await store(other, 4)
    payload = data(await api.gql(MARK_READ, {"ids": [gid(theirs[0])]}, token))["markRead"]
    assert payload["unreadCount"] == 1  # not the other customer's 4
    assert await unread(api, other_token) == 4
