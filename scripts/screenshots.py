"""Screenshots of the preference page for the docs, in English and Chinese, desktop and phone.

Run by hand (`make screenshots`), not by the tests: it serves the app on a throw-away SQLite
database filled with the demo data, opens each demo customer's preference link in Chromium
and writes docs/screenshots/preferences-<locale>[-phone].png.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
from pathlib import Path

import uvicorn
from playwright.async_api import async_playwright

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
                await browser.close()
        finally:
            server.should_exit = True
            await task


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
