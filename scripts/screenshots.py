"""Screenshots for the docs, in English and Chinese: the preference page (desktop and phone)
and the staff dashboard.

Run by hand (`make screenshots`), not by the tests: it serves the app on a throw-away SQLite
database filled with the demo data, opens each demo customer's preference link in Chromium
and writes docs/screenshots/preferences-<locale>[-phone].png; then adds a month of demo-like
history (scripts/dashboard_demo.py), signs in to /dashboard and writes
docs/screenshots/dashboard-<locale>.png.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
from pathlib import Path

import uvicorn
from dashboard_demo import STAFF_EMAIL, STAFF_PASSWORD, load_history
from playwright.async_api import Browser, async_playwright

from tidings.api.app import create_app
from tidings.api.settings import Settings
from tidings.core.demo import load_demo
from tidings.core.models import Customer

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
# (demo customer, page language, file name)
SHOTS = [("cust-1001", "en", "preferences-en"), ("cust-1002", "zh-CN", "preferences-zh-CN")]
DASHBOARD_VIEWPORT = {"width": 1280, "height": 900}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def main() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.load(
            {
                "TIDINGS_DATABASE_URL": f"sqlite://{folder}/screens.sqlite3",
                "TIDINGS_SECRET_KEY": "screenshots-only-" + "x" * 32,
                "TIDINGS_PUBLIC_URL": url,
            },
            env_file=None,
        )
        app = create_app(settings)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
            await asyncio.sleep(0.05)
        try:
            await load_demo()
            links = app.state.runtime.links
            OUT.mkdir(parents=True, exist_ok=True)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for external_id, lang, name in SHOTS:
                    customer = await Customer.get(external_id=external_id)
                    link = links.preferences_url(customer.id, customer.token_version)
                    for suffix, viewport in (
                        ("", {"width": 1100, "height": 900}),
                        ("-phone", {"width": 375, "height": 740}),
                    ):
                        context = await browser.new_context(viewport=viewport)
                        page = await context.new_page()
                        await page.goto(f"{link}?lang={lang}")
                        path = OUT / f"{name}{suffix}.png"
                        await page.screenshot(path=str(path), full_page=True)
                        print(path.relative_to(ROOT))
                        await context.close()
                await load_history(app.state.runtime.services)
                await dashboard_shots(browser, url)
                await browser.close()
        finally:
            server.should_exit = True
            await task


async def dashboard_shots(browser: Browser, url: str) -> None:
    """Sign in once, then the dashboard in each language, the whole page."""
    context = await browser.new_context(viewport=DASHBOARD_VIEWPORT)
    page = await context.new_page()
    await page.goto(f"{url}/dashboard")
    await page.locator("#email").fill(STAFF_EMAIL)
    await page.locator("#password").fill(STAFF_PASSWORD)
    await page.locator("button.primary").click()
    await page.wait_for_selector("#chart-funnel canvas")
    for lang in ("en", "zh-CN"):
        await page.goto(f"{url}/dashboard?lang={lang}&days=30")
        await page.wait_for_selector("#chart-consent canvas")
        path = OUT / f"dashboard-{lang}.png"
        await page.screenshot(path=str(path), full_page=True)
        print(path.relative_to(ROOT))
    await context.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
