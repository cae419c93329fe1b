"""A customer link's token opens the customer's page: uvicorn's access log, as `serve`
configures it, names the path with the token left out; so for tracking and export tokens."""

from __future__ import annotations

import asyncio
import logging
import uuid

import httpx
import uvicorn

from tests.conftest import make_settings
from tests.pages.conftest import free_port
from tidings.api.app import ACCESS_LOGGER, create_app
from tidings.api.serving import server_options
from tidings.core.models import Customer


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_the_access_log_leaves_link_tokens_out(db):
    customer = await Customer.create(external_id="log-1", name="Logan", email="l@example.com")
    port = free_port()
    settings = make_settings(db, TIDINGS_PUBLIC_URL=f"http://127.0.0.1:{port}")
    app = create_app(settings, manage_database=False)
    links = app.state.runtime.links
    tokens = {
        "preferences": links.preferences_token(customer.id, 0),
        "unsubscribe": links.unsubscribe_token(customer.id, "promos", "email"),
        "confirm": links.confirm_token(customer.id, "promos", "email", uuid.uuid4()),
        # Tracking tokens name a delivery and carry the link's URL.
        "t/o": app.state.runtime.tracking.open_token(uuid.uuid4()) + ".gif",
        "t/c": app.state.runtime.tracking.click_token(uuid.uuid4(), "https://shop.example/x"),
        # A day's download of everything held about the customer.
        "exports": links.export_url(customer.id).rsplit("/", 1)[1],
    }
    # As `serve` builds it: uvicorn's own logging configuration, access log at INFO.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="info", **server_options(settings)
    )
    server = uvicorn.Server(config)
    lines = Lines()
    access = logging.getLogger(ACCESS_LOGGER)
    access.addHandler(lines)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for kind, token in tokens.items():
                await client.get(f"/{kind}/{token}?lang=en")
    finally:
        server.should_exit = True
        await task
        access.removeHandler(lines)
    logged = "\n".join(lines.lines)
    for kind, token in tokens.items():
        assert f"/{kind}/<token>?lang=en" in logged, logged
        assert token not in logged and token[-20:] not in logged
