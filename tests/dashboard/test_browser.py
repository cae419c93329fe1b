"""The dashboard in real Chromium (Debian's, through Playwright): signing in, the charts drawn
with their data, a filter, a CSV download, the live table after a new send, axe-core in both
languages at desktop and phone widths, and no script or style refused by the CSP."""

from __future__ import annotations

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page

from tests.conftest import PASSWORD
from tests.dashboard.support import make_world, member
from tests.delivery.support import send
from tidings.core.enums import Role

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
SERIOUS = {"serious", "critical"}
CHARTS = ("chart-funnel", "chart-consent", "chart-rates", "chart-complaints")
SERIES = """id => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  return chart ? chart.getOption().series.map(s => ({name: s.name, data: s.data})) : null;
}"""


async def open_signed_in(browser: Browser, served, viewport=DESKTOP, lang: str = "en") -> Page:
    """A new tab, signed in through the form as a MARKETER; the console's errors collected."""
    staff = await member(served, Role.MARKETER)
    context = await browser.new_context(viewport=viewport, accept_downloads=True)
    page = await context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda message: (
            page.errors.append(message.text)  # type: ignore[attr-defined]
            if message.type == "error"
            else None
        ),
    )
    await page.goto(f"{served.url}/dashboard?lang={lang}")
    await page.locator("#email").fill(staff.email)
    await page.locator("#password").fill(PASSWORD)
    await page.locator("button.primary").click()
    await page.wait_for_selector("#chart-funnel canvas")
    return page


async def test_sign_in_and_see_the_charts_drawn(served, browser):
    await make_world(served)
    page = await open_signed_in(browser, served)
    try:
        assert await page.title() == "Tidings dashboard"
        for chart in CHARTS:
            assert await page.locator(f"#{chart} canvas").count() >= 1, chart
            series = await page.evaluate(SERIES, chart)
            assert series and any(s["data"] for s in series), chart
        funnel = {s["name"]: s["data"] for s in await page.evaluate(SERIES, "chart-funnel")}
        assert funnel["promos"][0] == 6 and funnel["orders"][:3] == [3, 3, 3]
        (heat,) = await page.evaluate(SERIES, "chart-consent")
        assert ["in_app", "promos", 2 / 3] in heat["data"]
        assert page.errors == []  # type: ignore[attr-defined]
        # Signing out lands on the sign-in form.
        await page.get_by_role("button", name="Sign out").click()
        await page.wait_for_selector("#password")
        await page.goto(f"{served.url}/dashboard")
        assert await page.title() == "Sign in to the dashboard"
    finally:
        await page.context.close()


async def test_a_wrong_password_says_so(served, browser):
    staff = await member(served, Role.ADMIN)
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    try:
        await page.goto(f"{served.url}/dashboard")
        await page.get_by_label("Email").fill(staff.email)
        await page.get_by_label("Password").fill("wrong password, long enough")
        await page.get_by_role("button", name="Sign in").click()
        alert = page.get_by_role("alert")
        assert await alert.inner_text() == "The email or the password is wrong."
        assert await page.get_by_label("Email").input_value() == staff.email
    finally:
        await context.close()


async def test_change_a_filter(served, browser):
    await make_world(served)
    page = await open_signed_in(browser, served)
    try:
        await page.get_by_label("Category", exact=True).select_option("orders")
        await page.get_by_label("Period", exact=True).select_option("7")
        await page.get_by_role("button", name="Apply").click()
        await page.wait_for_url("**category=orders**")
        assert "days=7" in page.url
        series = await page.evaluate(SERIES, "chart-funnel")
        assert [s["name"] for s in series] == ["orders"]
        days = await page.evaluate(
            "echarts.getInstanceByDom(document.getElementById('chart-rates'))"
            ".getOption().xAxis[0].data.length"
        )
        assert days == 7
        # The CSV link carries the same filters.
        href = await page.locator("#section-funnel a.download").get_attribute("href")
        assert "category=orders" in href and "days=7" in href
    finally:
        await page.context.close()


async def test_download_a_csv(served, browser):
    await make_world(served)
    page = await open_signed_in(browser, served)
    try:
        async with page.expect_download() as info:
            await page.locator("#section-funnel a.download").click()
        download = await info.value
        assert download.suggested_filename.startswith("tidings-funnel-")
        text = (await download.path()).read_text(encoding="utf-8-sig")
        lines = text.splitlines()
        assert lines[0].startswith("category,attempted,sent,delivered,opened,clicked,converted")
        assert any(line.startswith("promos,6,") for line in lines[1:])
    finally:
        await page.context.close()


async def test_the_live_table_updates_after_a_new_send(served, browser):
    world = await make_world(served, sends=1)
    page = await open_signed_in(browser, served)
    try:
        rows = page.locator("#table-messages tbody tr")
        assert await rows.count() == 2
        await send(served, world.admin_token, "orders", {"customerIds": world.customers})
        # The page polls every 5 seconds; the new message appears without a reload.
        await rows.nth(2).wait_for(timeout=20_000)
        assert await rows.count() == 3
        assert await page.locator("#messages-updated").inner_text() != ""
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        await page.context.close()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_axe_finds_nothing_serious(served, browser, lang, viewport):
    await make_world(served)
    page = await open_signed_in(browser, served, viewport, lang)
    try:
        assert await page.get_attribute("html", "lang") == lang
        for opened in (False, True):
            if opened:  # the tables behind the charts too
                for summary in await page.locator("summary").all():
                    await summary.click()
            results = await Axe().run(page)
            serious = [
                (v["id"], v["impact"], [n["html"] for n in v["nodes"]][:3])
                for v in results.response["violations"]
                if v["impact"] in SERIOUS
            ]
            assert serious == [], serious
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"]
        # The sign-in form too.
        await page.context.clear_cookies()
        await page.goto(f"{served.url}/dashboard?lang={lang}")
        results = await Axe().run(page)
        assert [v["id"] for v in results.response["violations"] if v["impact"] in SERIOUS] == []
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        await page.context.close()
