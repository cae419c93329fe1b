"""The preference page over ASGI: what it shows, what saving records, and what it refuses."""

from __future__ import annotations

import time

import jwt
import pytest

from tests.conftest import SECRET
from tests.pages.support import (
    NAME,
    csrf_of,
    entries,
    grant,
    make_setup,
    shown_form,
    status,
)
from tests.sql_statements import statement_log
from tidings.core.enums import CategoryKind, Frequency, GrantStatus
from tidings.core.links import LinkSigner
from tidings.core.models import Category, Customer, Preference
from tidings.core.viewer import Viewer, ViewerKind

SECURITY_HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-robots-tag": "noindex",
}


async def open_page(api, setup, **params):
    response = await api.client.get(setup.path, params=params)
    assert response.status_code == 200, response.text
    return response.text


async def submit(api, setup, changes=None, drop=(), headers=None):
    """Submit the page's form as shown, with `changes` made and the fields in `drop` cleared."""
    html = await open_page(api, setup)
    body = shown_form(html)
    for name in drop:
        body.pop(name, None)
    body.update(changes or {})
    return await api.client.post(setup.path, data=body, headers=headers or {})


async def test_page_shows_categories_and_states(api):
    setup = await make_setup(api)
    await grant(api, setup.id, "email")
    await grant(api, setup.id, "push")
    await api.runtime.services.consent.withdraw(
        Viewer(ViewerKind.CUSTOMER, setup.id), None, "push", "news", "api"
    )
    html = await open_page(api, setup)
    assert NAME in html
    for text in ("Newsletter", "Our monthly letter", "Order updates", "Security alerts"):
        assert text in html
    body = shown_form(html)
    assert body["c:news:email"] == "on"  # granted
    assert "c:news:push" not in body  # withdrawn
    assert "c:news:sms" not in body  # never asked
    assert body["c:orders:email"] == body["c:orders:push"] == "on"  # the defaults
    assert not any(name.startswith("c:security:") for name in body)  # locked: disabled
    assert "allowed" in html and "turned off" in html and "never asked" in html
    assert "cannot be turned off" in html
    assert 'role="status"' not in html
    assert '<html lang="en">' in html


async def test_saving_grants_and_withdraws_as_the_customer(api):
    setup = await make_setup(api)
    await grant(api, setup.id, "email")
    before = len(await entries(setup.id))
    response = await submit(
        api,
        setup,
        {"c:news:push": "on", "f:news": "DAILY_DIGEST"},
        drop=["c:news:email"],
        headers={"user-agent": "PageTest/1.0"},
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith("notice=saved")
    assert await status(setup.id, "push") is GrantStatus.GRANTED
    assert await status(setup.id, "email") is GrantStatus.WITHDRAWN
    made = (await entries(setup.id))[before:]
    assert {(e.channel, e.status) for e in made} == {
        ("push", GrantStatus.GRANTED),
        ("email", GrantStatus.WITHDRAWN),
    }
    for entry in made:
        assert entry.source == "preference_center"
        assert entry.recorded_by == f"customer:{setup.id}"
        assert entry.evidence["userAgent"] == "PageTest/1.0"
        assert entry.evidence["pageVersion"] == "1"
        assert entry.evidence["ip"] and entry.evidence["at"]
    preference = await Preference.get(customer_id=setup.id, category="news")
    assert preference.channels == ["push"]
    assert preference.frequency is Frequency.DAILY_DIGEST
    # The redirect shows the page with a status message.
    page = await api.client.get(setup.path + response.headers["location"])
    assert 'role="status"' in page.text and "saved" in page.text


async def test_an_unchanged_form_records_nothing(api):
    setup = await make_setup(api)
    await grant(api, setup.id, "email")
    before = len(await entries(setup.id))
    response = await submit(api, setup)
    assert response.status_code == 303
    assert response.headers["location"].endswith("notice=unchanged")
    assert len(await entries(setup.id)) == before
    assert await Preference.filter(customer_id=setup.id).count() == 0


async def test_transactional_checkboxes_are_preference_channels_only(api):
    setup = await make_setup(api)
    response = await submit(api, setup, drop=["c:orders:push"])
    assert response.status_code == 303
    assert await entries(setup.id) == []
    preference = await Preference.get(customer_id=setup.id, category="orders")
    assert preference.channels == ["email"]


async def test_quiet_hours_are_stored_on_each_category(api):
    setup = await make_setup(api)
    response = await submit(api, setup, {"quiet_start": "22:00", "quiet_end": "07:30"})
    assert response.status_code == 303
    rows = await Preference.filter(customer_id=setup.id).order_by("category")
    assert [(p.category, p.quiet_start, p.quiet_end) for p in rows] == [
        ("news", "22:00", "07:30"),
        ("orders", "22:00", "07:30"),
    ]
    assert await entries(setup.id) == []
    html = await open_page(api, setup)
    assert 'value="22:00"' in html and 'value="07:30"' in html


async def test_unsubscribe_from_all_marketing(api):
    setup = await make_setup(api)
    await Category.create(
        key="deals", name="Deals", kind=CategoryKind.MARKETING, respect_quiet_hours=True
    )
    await grant(api, setup.id, "email")
    await grant(api, setup.id, "push", "deals")
    html = await open_page(api, setup)
    response = await api.client.post(
        setup.path, data={"csrf": csrf_of(html), "action": "unsubscribe_all"}
    )
    assert response.status_code == 303
    assert await status(setup.id, "email") is GrantStatus.WITHDRAWN
    assert await status(setup.id, "push", "deals") is GrantStatus.WITHDRAWN
    withdrawals = [e for e in await entries(setup.id) if e.status is GrantStatus.WITHDRAWN]
    assert len(withdrawals) == 2
    assert {e.source for e in withdrawals} == {"preference_center"}
    page = await api.client.get(setup.path + response.headers["location"])
    assert "unsubscribed from all marketing" in page.text


async def test_a_forged_form_cannot_touch_what_the_page_locks_or_lacks(api):
    setup = await make_setup(api)
    await Category.filter(key="news").update(required=True)
    response = await submit(
        api,
        setup,
        {
            "c:news:push": "on",  # a required (locked) category
            "c:nosuch:email": "on",  # no such category
            "c:orders:fax": "on",  # no such channel
            "f:news": "DAILY_DIGEST",
        },
    )
    assert response.status_code == 303
    assert await entries(setup.id) == []
    assert await Preference.filter(customer_id=setup.id).count() == 0


@pytest.mark.parametrize(
    "case",
    ["missing", "wrong", "cross-origin", "cross-site"],
)
async def test_csrf(api, case):
    setup = await make_setup(api)
    html = await open_page(api, setup)
    body = shown_form(html)
    body["c:news:email"] = "on"
    headers = {}
    if case == "missing":
        del body["csrf"]
    elif case == "wrong":
        body["csrf"] = "0" * 64
    elif case == "cross-origin":
        headers["origin"] = "https://evil.example"
    else:
        headers["sec-fetch-site"] = "cross-site"
    response = await api.client.post(setup.path, data=body, headers=headers)
    assert response.status_code == 403
    assert await entries(setup.id) == []


async def test_same_origin_and_null_origin_are_accepted(api):
    setup = await make_setup(api)
    for origin in (api.runtime.links.public_url, "null"):
        response = await submit(
            api, setup, headers={"origin": origin, "sec-fetch-site": "same-origin"}
        )
        assert response.status_code == 303


async def bad_tokens(api, setup) -> dict[str, str]:
    links = api.runtime.links
    expired = LinkSigner(SECRET, links.public_url, -10).preferences_token(setup.id, 0)
    good = setup.token
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    foreign = jwt.encode(
        {"iss": "tidings-links", "typ": "preferences", "sub": str(setup.id), "iat": 1,
         "exp": int(time.time()) + 60, "ver": 0},
        "another key of the right length, 32+ bytes",
        algorithm="HS256",
    )  # fmt: skip
    other = await Customer.create(external_id="gone", name="Gone")
    unknown = links.preferences_token(other.id, 0)
    await other.delete()
    return {
        "expired": expired,
        "tampered": tampered,
        "foreign key": foreign,
        "another kind": links.unsubscribe_token(setup.id, "news", "email"),
        "unknown customer": unknown,
        "garbage": "not-a-token",
    }


async def test_every_bad_link_gets_the_same_page(api):
    setup = await make_setup(api)
    pages = set()
    for cause, token in (await bad_tokens(api, setup)).items():
        for method in ("GET", "POST"):
            response = await api.client.request(method, f"/preferences/{token}")
            assert response.status_code == 404, cause
            assert NAME not in response.text and "zoe" not in response.text, cause
            assert "invalid or has expired" in response.text, cause
            pages.add(response.text)
    assert len(pages) == 1


async def test_revoking_tokens_kills_the_link(api):
    setup = await make_setup(api)
    assert (await api.client.get(setup.path)).status_code == 200
    viewer = Viewer(ViewerKind.CUSTOMER, setup.id)
    await api.runtime.services.customers.revoke_tokens(viewer, None)
    response = await api.client.get(setup.path)
    assert response.status_code == 404
    assert NAME not in response.text


async def test_a_chinese_customer_reads_chinese(api):
    setup = await make_setup(api, locale="zh-CN")
    html = await open_page(api, setup)
    assert '<html lang="zh-CN">' in html
    assert "您的通知设置" in html and "退订所有营销消息" in html
    english = await open_page(api, setup, lang="en")
    assert "Your notification settings" in english
    assert 'aria-current="true">English' in english


async def test_a_bad_field_saves_nothing(api):
    setup = await make_setup(api)
    response = await submit(
        api, setup, {"timezone": "Mars/Olympus", "c:news:email": "on", "quiet_start": "25:00"}
    )
    assert response.status_code == 400
    assert "This is not a time zone we know." in response.text
    assert 'id="timezone-error"' in response.text and 'aria-invalid="true"' in response.text
    assert "Give both a start and an end" in response.text
    assert 'value="Mars/Olympus"' in response.text  # what was typed is kept
    assert await entries(setup.id) == []
    assert await Preference.filter(customer_id=setup.id).count() == 0
    assert (await Customer.get(id=setup.id)).timezone == "Europe/London"


async def test_headers_on_every_page(api):
    setup = await make_setup(api)
    await grant(api, setup.id, "email")
    links = api.runtime.links
    responses = [
        await api.client.get(setup.path),
        await api.client.get("/preferences/nonsense"),
        await api.client.get(f"/unsubscribe/{links.unsubscribe_token(setup.id, 'news', 'email')}"),
        await submit(api, setup),
    ]
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "set-cookie" not in response.headers
    css = await api.client.get("/static/pages.css")
    assert css.status_code == 200 and "focus-visible" in css.text


async def test_the_page_costs_the_same_statements_for_any_number_of_categories(api):
    setup = await make_setup(api)
    await grant(api, setup.id, "email")

    async def count() -> int:
        with statement_log() as log:
            await open_page(api, setup)
        return len(log.statements)

    few = await count()
    for n in range(12):
        await Category.create(
            key=f"extra-{n}", name=f"Extra {n}", kind=CategoryKind.MARKETING,
            respect_quiet_hours=True,
        )  # fmt: skip
        await grant(api, setup.id, "push", f"extra-{n}")
    assert await count() == few
    # Five reads, and the page's customer.read entry: lock (PostgreSQL), chain tail, INSERT.
    assert few <= 8


async def test_links_on_the_page_are_relative(api):
    """TIDINGS_PUBLIC_URL may have a path a proxy strips: nothing on the page starts at /."""
    setup = await make_setup(api)
    html = await open_page(api, setup)
    assert 'href="/' not in html and 'action="/' not in html
    assert 'href="../static/pages.css"' in html
    response = await submit(api, setup)
    assert response.headers["location"].startswith("?lang=en&notice=")
