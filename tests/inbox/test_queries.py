"""inbox and unreadCount: the caller's own notifications, newest first, in stable pages."""

from __future__ import annotations

import pytest

from tests.conftest import data
from tests.inbox.support import (
    INBOX,
    UNREAD,
    gid,
    ids_of,
    new_customer,
    page,
    store,
    unread,
)
from tests.sql_statements import statement_log
from tidings.core.enums import Role


async def test_newest_first_in_cursor_pages(api):
    customer, token = await new_customer(api)
    stored = await store(customer, 5)
    newest_first = [gid(i) for i in reversed(stored)]

    first = await page(api, token, first=2)
    assert ids_of(first) == newest_first[:2]
    info = first["pageInfo"]
    assert info["hasNextPage"] and not info["hasPreviousPage"]
    assert info["startCursor"] == first["edges"][0]["cursor"]
    node = first["edges"][0]["node"]
    assert (node["category"], node["title"], node["body"]) == ("orders", "Title 4", "Body 4")
    assert node["data"] == {"n": 4} and node["readAt"] is None and node["createdAt"]

    second = await page(api, token, first=2, after=info["endCursor"])
    assert ids_of(second) == newest_first[2:4]
    third = await page(api, token, first=2, after=second["pageInfo"]["endCursor"])
    assert ids_of(third) == newest_first[4:]
    assert not third["pageInfo"]["hasNextPage"] and third["pageInfo"]["hasPreviousPage"]


async def test_a_reconnecting_app_finds_what_it_missed_on_the_first_page(api):
    """An app reads from the top until it meets an id it has: all it missed comes before."""
    customer, token = await new_customer(api)
    seen = await store(customer, 3)
    missed = await store(customer, 2)
    got = ids_of(await page(api, token, first=10))
    assert got == [gid(i) for i in reversed(seen + missed)]
    assert got.index(gid(seen[-1])) == len(missed)


async def test_default_page_is_twenty(api):
    customer, token = await new_customer(api)
    await store(customer, 25)
    connection = data(
        await api.gql("{ inbox { nodes { id } pageInfo { hasNextPage } } }", {}, token)
    )
    assert len(connection["inbox"]["nodes"]) == 20
    assert connection["inbox"]["pageInfo"]["hasNextPage"]


async def test_unread_only_and_archived_hidden(api):
    customer, token = await new_customer(api)
    read = await store(customer, 2, read=True)
    unread_ids = await store(customer, 2)
    await store(customer, 3, archived=True)
    await store(customer, 1, read=True, archived=True)

    everything = await page(api, token, first=50)
    assert ids_of(everything) == [gid(i) for i in reversed(read + unread_ids)]
    assert all(e["node"]["readAt"] for e in everything["edges"][2:])
    only_unread = await page(api, token, first=1, unreadOnly=True)
    assert ids_of(only_unread) == [gid(unread_ids[1])]
    rest = await page(
        api, token, first=5, unreadOnly=True, after=only_unread["pageInfo"]["endCursor"]
    )
    assert ids_of(rest) == [gid(unread_ids[0])]
    assert not rest["pageInfo"]["hasNextPage"]
    assert await unread(api, token) == 2


async def test_only_the_callers_own(api):
    mine, token = await new_customer(api)
    other, other_token = await new_customer(api)
    await store(mine, 2)
    theirs = await store(other, 3)
    assert len(ids_of(await page(api, token, first=50))) == 2
    assert await unread(api, token) == 2
    assert ids_of(await page(api, other_token, first=50)) == [gid(i) for i in reversed(theirs)]
    assert await unread(api, other_token) == 3


async def test_empty_inbox(api):
    _, token = await new_customer(api)
    empty = await page(api, token)
    assert empty["edges"] == []
    assert empty["pageInfo"]["startCursor"] is None and not empty["pageInfo"]["hasNextPage"]
    assert await unread(api, token) == 0


async def test_page_size_over_the_limit_is_refused_before_resolving(api):
    _, token = await new_customer(api)
    result = await api.gql(INBOX, {"first": 101}, token)
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "QUERY_LIMIT"
    assert data(await api.gql(INBOX, {"first": 100}, token))["inbox"]["edges"] == []


async def test_a_cursor_we_did_not_issue(api):
    _, token = await new_customer(api)
    result = await api.gql(INBOX, {"after": "not-a-cursor"}, token)
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert result["errors"][0]["extensions"]["reason"] == "INVALID_CURSOR"


@pytest.mark.parametrize("document", [INBOX, UNREAD], ids=["inbox", "unreadCount"])
async def test_staff_and_api_keys_are_forbidden(api, document):
    customer, _ = await new_customer(api)
    await store(customer, 1)
    for role in Role:
        _, token = await api.staff(role)
        result = await api.gql(document, {}, token)
        assert list(result["data"].values()) == [None], result
        assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
        _, secret = await api.runtime.services.api_keys.create(None, f"k-{role.value}", role)
        result = await api.gql(document, {}, secret)
        assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"], result
        assert "Title" not in str(result)


@pytest.mark.parametrize("document", [INBOX, UNREAD], ids=["inbox", "unreadCount"])
async def test_anonymous_and_bad_tokens_are_unauthenticated(api, document):
    for token in (None, "not-a-token"):
        result = await api.gql(document, {}, token)
        assert list(result["data"].values()) == [None]
        assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]


async def test_revoked_customer_token_is_unauthenticated(api):
    customer, token = await new_customer(api)
    await store(customer, 1)
    revoked = data(
        await api.gql(
            "mutation { revokeCustomerTokens { customer { id } errors { code } } }", {}, token
        )
    )
    assert revoked["revokeCustomerTokens"]["errors"] == []
    result = await api.gql(UNREAD, {}, token)
    assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]


async def test_statement_count_does_not_grow_with_the_page(api):
    customer, token = await new_customer(api)
    await store(customer, 60)
    found = {}
    for first in (5, 50):
        with statement_log() as log:
            connection = await page(api, token, first=first)
        assert len(connection["edges"]) == first
        found[first] = log.tables()
    # The bearer token's customer row, then one page of notifications.
    assert found == {5: ["customers", "notifications"], 50: ["customers", "notifications"]}
