"""A real uvicorn on 127.0.0.1 serving the app, with its in-process worker and bus, on the
session's database (SQLite and PostgreSQL): the websocket tests talk to it as an app would."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from tests.conftest import Api, make_settings
from tidings.api.app import create_app
from tidings.api.cli import server_options

ORIGIN = "https://app.example.com"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LiveServer:
    api: Api  # HTTP client against the same server
    ws_url: str
    server: uvicorn.Server | None = None

    def connections(self) -> int:
        """Connections uvicorn holds open (websockets and HTTP keep-alive)."""
        assert self.server is not None
        return len(self.server.server_state.connections)

    async def subscribed(self, count: int) -> None:
        """Wait until `count` subscriptions listen on the bus. The protocol acknowledges no
        subscribe: an event sent before the server has set one up is the app's to fetch."""
        hub = self.api.runtime.bus.hub
        for _ in range(200):
            if len(hub) >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{len(hub)} of {count} subscriptions listening")

    async def unsubscribed(self) -> None:
        """Wait until no subscription listens any more."""
        hub = self.api.runtime.bus.hub
        for _ in range(200):
            if not len(hub):
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{len(hub)} subscriptions still listening")


@pytest.fixture
async def live(db: str) -> AsyncIterator[LiveServer]:
    async with serving(db) as server:
        yield server


@contextlib.asynccontextmanager
async def serving(db: str, **env: str) -> AsyncIterator[LiveServer]:
    """The `live` fixture's server, with more settings where a test needs them."""
    settings = make_settings(
        db,
        TIDINGS_ALLOWED_ORIGINS=ORIGIN,
        TIDINGS_WS_MAX_SUBSCRIPTIONS="3",
        TIDINGS_WS_MAX_SOCKETS_PER_CUSTOMER="3",
        TIDINGS_CUSTOMER_TOKEN_TTL="3600",
        **env,
    )
    app = create_app(settings, manage_database=False)
    port = free_port()
    options = server_options(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **options
        )
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            api = Api(client=client, app=app)
            yield LiveServer(api, f"ws://127.0.0.1:{port}/graphql", server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
