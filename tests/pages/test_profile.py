"""The customer edits its own name, locale and timezone on the page."""

from __future__ import annotations

from tests.pages.support import entries, make_setup, shown_form
from tidings.core.models import Customer


async def test_the_profile_is_saved_from_the_page(api):
    setup = await make_setup(api)
    html = (await api.client.get(setup.path)).text
    body = shown_form(html)
    assert body["name"] == "Zoë Pagetest" and body["timezone"] == "Europe/London"
    body.update({"name": "Zoë Page", "locale": "zh-CN", "timezone": "Asia/Shanghai"})
    response = await api.client.post(setup.path, data=body)
    assert response.status_code == 303
    customer = await Customer.get(id=setup.id)
    assert (customer.name, customer.locale, customer.timezone) == (
        "Zoë Page",
        "zh-CN",
        "Asia/Shanghai",
    )
    assert await entries(setup.id) == []
    # The page follows the new locale once no ?lang= says otherwise.
    page = await api.client.get(setup.path)
    assert '<html lang="zh-CN">' in page.text


async def test_a_bad_name_is_shown_next_to_its_field(api):
    setup = await make_setup(api)
    body = shown_form((await api.client.get(setup.path)).text)
    body["name"] = "x" * 300
    response = await api.client.post(setup.path, data=body)
    assert response.status_code == 400
    assert 'id="name-error"' in response.text
    assert (await Customer.get(id=setup.id)).name == "Zoë Pagetest"
