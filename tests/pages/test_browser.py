"""The customer pages in real Chromium, as a person uses them: with a mouse, with the keyboard
alone, in Chinese, and checked by axe-core at desktop and phone widths."""

from __future__ import annotations

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

from tests.pages.support import entries, grant, make_setup, status
from tidings.core.enums import Frequency, GrantStatus
from tidings.core.models import Category, Preference
from tidings.core.services.consent import GrantRequest
from tidings.core.viewer import Viewer, ViewerKind

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
SERIOUS = {"serious", "critical"}


@pytest.fixture
async def page(browser):
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
    tab = await context.new_page()
    try:
        yield tab
    finally:
        await context.close()


async def test_change_a_channel_and_the_frequency(served, page: Page):
    setup = await make_setup(served)
    await grant(served, setup.id, "email")
    await page.goto(f"{served.url}{setup.path}")
    assert await page.title() == "Your notification settings"
    push = page.get_by_role("group", name="Newsletter").get_by_label("Push notifications")
    await push.check()
    await page.get_by_label("How often").select_option("WEEKLY_DIGEST")
    await page.get_by_role("button", name="Save settings").click()
    await page.wait_for_url("**notice=saved")
    assert await page.get_by_role("status").inner_text() == "Your settings are saved."
    assert await status(setup.id, "push") is GrantStatus.GRANTED
    (entry,) = [e for e in await entries(setup.id) if e.source == "preference_center"]
    assert entry.channel == "push" and entry.recorded_by == f"customer:{setup.id}"
    assert "Chrome" in entry.evidence["userAgent"]
    preference = await Preference.get(customer_id=setup.id, category="news")
    assert preference.frequency is Frequency.WEEKLY_DIGEST
    # The page now shows the new state.
    assert await push.is_checked()


async def focus(page: Page, selector: str, limit: int = 80) -> None:
    """Tab until the element matching `selector` has focus, as a keyboard user would."""
    target = await page.query_selector(selector)
    assert target is not None, selector
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {selector}")


async def test_keyboard_only(served, page: Page):
    setup = await make_setup(served)
    await page.goto(f"{served.url}{setup.path}")
    await focus(page, "#c-news-email")
    await page.keyboard.press("Space")
    await focus(page, "button.primary")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**notice=saved")
    assert await status(setup.id, "email") is GrantStatus.GRANTED
    # The focus ring is visible: a real outline, not the browser's none.
    await focus(page, "#c-news-email")
    outline = await page.eval_on_selector(
        "#c-news-email", "element => getComputedStyle(element).outlineStyle"
    )
    assert outline == "solid"


async def test_a_chinese_customer_sees_chinese(served, page: Page):
    setup = await make_setup(served, locale="zh-CN")
    await page.goto(f"{served.url}{setup.path}")
    assert await page.get_attribute("html", "lang") == "zh-CN"
    assert await page.title() == "您的通知设置"
    assert await page.get_by_role("button", name="保存设置").is_visible()
    await page.get_by_role("link", name="English").click()
    assert await page.title() == "Your notification settings"


async def pages_to_check(served, setup) -> list[str]:
    links = served.runtime.links
    await Category.filter(key="news").update(confirm_email=True)
    entry = await served.runtime.services.consent.grant(
        Viewer(ViewerKind.CUSTOMER, setup.id), None, GrantRequest("email", "news", "signup_form")
    )
    return [
        f"{served.url}{setup.path}",
        links.unsubscribe_url(setup.id, "news", "email"),
        links.confirm_url(setup.id, "news", "email", entry.id),
        f"{served.url}/preferences/not-a-token",
    ]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_axe_finds_nothing_serious(served, browser, viewport):
    setup = await make_setup(served)
    await grant(served, setup.id, "push")
    context = await browser.new_context(viewport=viewport)
    try:
        tab = await context.new_page()
        for url in await pages_to_check(served, setup):
            await tab.goto(url)
            results = await Axe().run(tab)
            serious = [
                (v["id"], v["impact"], [n["html"] for n in v["nodes"]][:3])
                for v in results.response["violations"]
                if v["impact"] in SERIOUS
            ]
            assert serious == [], (url, serious)
            # Nothing wider than the screen on a phone.
            width = await tab.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], url
    finally:
        await context.close()


async def test_the_unsubscribe_and_confirm_buttons(served, page: Page):
    setup = await make_setup(served)
    await grant(served, setup.id, "push")
    links = served.runtime.links
    await page.goto(links.unsubscribe_url(setup.id, "news", "push"))
    assert await status(setup.id, "push") is GrantStatus.GRANTED  # opening changed nothing
    await page.get_by_role("button", name="Unsubscribe").click()
    await page.get_by_role("status").wait_for()
    assert "You are unsubscribed" in await page.get_by_role("status").inner_text()
    assert await status(setup.id, "push") is GrantStatus.WITHDRAWN
    (withdrawal,) = [e for e in await entries(setup.id) if e.source == "one_click_unsubscribe"]
    assert withdrawal.recorded_by == f"customer:{setup.id}"

    await Category.filter(key="news").update(confirm_email=True)
    entry = await served.runtime.services.consent.grant(
        Viewer(ViewerKind.CUSTOMER, setup.id), None, GrantRequest("email", "news", "signup_form")
    )
    await page.goto(links.confirm_url(setup.id, "news", "email", entry.id))
    assert await status(setup.id, "email") is GrantStatus.PENDING
    await page.get_by_role("button", name="Confirm").click()
    await page.get_by_role("status").wait_for()
    assert "confirmed" in await page.get_by_role("status").inner_text()
    assert await status(setup.id, "email") is GrantStatus.GRANTED
