"""The confirmation page (confirmed opt-in): GET asks, POST confirms once, CSRF as the
preference form's."""

from __future__ import annotations

from tests.pages.support import NAME, csrf_of, entries, make_setup, shown_form, status
from tidings.core.enums import GrantStatus
from tidings.core.models import Category, PermissionEntry
from tidings.core.services.consent import GrantRequest
from tidings.core.viewer import Viewer, ViewerKind


async def pending(api, setup) -> PermissionEntry:
    await Category.filter(key="news").update(confirm_email=True)
    viewer = Viewer(ViewerKind.CUSTOMER, setup.id)
    entry = await api.runtime.services.consent.grant(
        viewer, None, GrantRequest("email", "news", "signup_form")
    )
    assert entry.status is GrantStatus.PENDING
    return entry


def confirm_path(api, setup, entry) -> str:
    token = api.runtime.links.confirm_token(setup.id, "news", "email", entry.id)
    return f"/confirm/{token}"


async def test_get_asks_and_post_confirms_once(api):
    setup = await make_setup(api)
    entry = await pending(api, setup)
    path = confirm_path(api, setup, entry)
    before = len(await entries(setup.id))
    page = await api.client.get(path)
    assert page.status_code == 200
    assert "Newsletter" in page.text and "Confirm" in page.text
    assert NAME not in page.text
    assert len(await entries(setup.id)) == before
    assert await status(setup.id, "email") is GrantStatus.PENDING

    response = await api.client.post(
        path, data={"csrf": csrf_of(page.text)}, headers={"user-agent": "ConfirmTest"}
    )
    assert response.status_code == 200
    assert "your subscription is confirmed" in response.text
    assert await status(setup.id, "email") is GrantStatus.GRANTED
    newest = (await entries(setup.id))[-1]
    assert newest.recorded_by == f"customer:{setup.id}"
    assert "ConfirmTest" in str(newest.evidence)

    again = await api.client.post(path, data={"csrf": csrf_of(page.text)})
    assert "already confirmed" in again.text
    assert len(await entries(setup.id)) == before + 1
    # GET after confirming says so, with no button.
    after = await api.client.get(path)
    assert "already confirmed" in after.text and "<form" not in after.text


async def test_confirm_needs_the_csrf_field(api):
    setup = await make_setup(api)
    entry = await pending(api, setup)
    path = confirm_path(api, setup, entry)
    assert (await api.client.post(path, data={})).status_code == 403
    page = await api.client.get(path)
    response = await api.client.post(
        path, data={"csrf": csrf_of(page.text)}, headers={"origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert await status(setup.id, "email") is GrantStatus.PENDING


async def test_a_bad_confirm_link_gets_the_invalid_page(api):
    setup = await make_setup(api)
    entry = await pending(api, setup)
    links = api.runtime.links
    for token in (
        "garbage",
        links.unsubscribe_token(setup.id, "news", "email"),
        links.confirm_token(setup.id, "news", "email", setup.id),  # no such entry
    ):
        response = await api.client.get(f"/confirm/{token}")
        assert response.status_code == 404
        assert NAME not in response.text
    assert await status(setup.id, "email") is GrantStatus.PENDING
    assert entry


async def test_the_preference_page_shows_pending_and_keeps_it(api):
    setup = await make_setup(api)
    await pending(api, setup)
    html = (await api.client.get(setup.path)).text
    assert "awaiting your confirmation" in html
    assert shown_form(html)["c:news:email"] == "on"
    before = len(await entries(setup.id))
    body = shown_form(html)
    response = await api.client.post(setup.path, data=body)
    assert response.status_code == 303
    assert len(await entries(setup.id)) == before  # PENDING counts as checked: no new request
