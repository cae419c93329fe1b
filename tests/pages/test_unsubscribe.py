"""One-click unsubscribe (RFC 8058) over ASGI: POST withdraws at once, GET only asks."""

from __future__ import annotations

import pytest

from tests.pages.support import NAME, entries, grant, make_setup, status
from tidings.core.enums import GrantStatus
from tidings.core.viewer import Viewer, ViewerKind

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def unsubscribe_path(api, setup, category="news", channel="email") -> str:
    return f"/unsubscribe/{api.runtime.links.unsubscribe_token(setup.id, category, channel)}"


async def test_get_asks_and_changes_nothing(api):
    setup = await make_setup(api)
    await grant(api, setup.id, "email")
    before = await entries(setup.id)
    response = await api.client.get(unsubscribe_path(api, setup))
    assert response.status_code == 200
    assert "Newsletter" in response.text and "Email" in response.text
    assert 'name="List-Unsubscribe" value="One-Click"' in response.text
    assert NAME not in response.text
    assert await entries(setup.id) == before
    assert await status(setup.id, "email") is GrantStatus.GRANTED


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
async def test_one_click_post_withdraws_once(api, encoding):
    setup = await make_setup(api)
    await grant(api, setup.id, "email")
    path = unsubscribe_path(api, setup)

    async def post():
        if encoding == "multipart":
            return await api.client.post(path, files={"List-Unsubscribe": (None, "One-Click")})
        return await api.client.post(path, data=ONE_CLICK)

    response = await post()
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    assert "set-cookie" not in response.headers
    assert await status(setup.id, "email") is GrantStatus.WITHDRAWN
    (entry,) = [e for e in await entries(setup.id) if e.status is GrantStatus.WITHDRAWN]
    assert entry.source == "one_click_unsubscribe"
    assert entry.recorded_by == f"customer:{setup.id}"
    assert set(entry.evidence) == {"at", "ip", "userAgent", "pageVersion"}
    count = len(await entries(setup.id))
    again = await post()
    assert again.status_code == 200
    assert len(await entries(setup.id)) == count


async def test_another_body_is_refused(api):
    setup = await make_setup(api)
    await grant(api, setup.id, "email")
    path = unsubscribe_path(api, setup)
    for body in ({}, {"List-Unsubscribe": "Yes"}, {"unsubscribe": "One-Click"}):
        response = await api.client.post(path, data=body)
        assert response.status_code == 400
    assert await status(setup.id, "email") is GrantStatus.GRANTED


async def test_the_link_outlives_revocation(api):
    """It can only withdraw: mail in an old inbox keeps working after revokeCustomerTokens."""
    setup = await make_setup(api)
    await grant(api, setup.id, "push")
    path = unsubscribe_path(api, setup, channel="push")
    await api.runtime.services.customers.revoke_tokens(Viewer(ViewerKind.CUSTOMER, setup.id), None)
    response = await api.client.post(path, data=ONE_CLICK)
    assert response.status_code == 200
    assert await status(setup.id, "push") is GrantStatus.WITHDRAWN


async def test_bad_unsubscribe_links_get_the_invalid_page(api):
    setup = await make_setup(api)
    links = api.runtime.links
    tokens = [
        "garbage",
        links.preferences_token(setup.id, 0),  # another kind
        links.unsubscribe_token(setup.id, "nosuch", "email"),  # no such category
        links.unsubscribe_token(setup.id, "news", "fax"),  # no such channel
    ]
    for token in tokens:
        for method in ("GET", "POST"):
            response = await api.client.request(method, f"/unsubscribe/{token}", data=ONE_CLICK)
            assert response.status_code == 404
            assert "invalid or has expired" in response.text
            assert NAME not in response.text
    assert await entries(setup.id) == []


async def test_a_chinese_customer_unsubscribes_in_chinese(api):
    setup = await make_setup(api, locale="zh-CN")
    response = await api.client.get(unsubscribe_path(api, setup))
    assert '<html lang="zh-CN">' in response.text and "退订" in response.text
