"""Pages in a real browser: Debian's Chromium driven by Playwright (`scripts/ensure-browser`
installs it), against the app served by uvicorn on a free loopback port, in the test's own
event loop so it shares the test's database connections."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, async_playwright

from tests.conftest import Api, make_settings
from tidings.api.app import create_app

CHROMIUM = "/usr/bin/chromium"
# As root Chromium needs --no-sandbox; the rest keep it off this machine's closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served(Api):
    """The app served over real HTTP at `url` (its TIDINGS_PUBLIC_URL), plus an httpx client
    for GraphQL set-up."""

    url: str = ""


@pytest.fixture
async def served(db: str) -> AsyncIterator[Served]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(make_settings(db, TIDINGS_PUBLIC_URL=url), manage_database=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            yield Served(client=client, app=app, url=url)
    finally:
        server.should_exit = True
        await task
