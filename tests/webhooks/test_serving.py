"""The dispatcher runs beside the in-process delivery worker: with the app's lifespan up, an
event reaches the endpoint without anyone driving it."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import Api, make_settings
from tests.core.support import create_category, create_customer
from tests.delivery.support import grant
from tests.webhooks.conftest import create_webhook
from tidings.api.app import create_app
from tidings.core.enums import Role


async def test_serve_dispatches_in_the_background(db, receiver):
    app = create_app(make_settings(db), manage_database=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            api = Api(client=client, app=app)
            _, token = await api.staff(Role.ADMIN)
            created = await create_webhook(api, token, receiver.url, ["CONSENT"])
            await create_category(api, token, "news")
            customer = await create_customer(api, token)
            await grant(api, token, customer["id"], "news")
            # Waits for the request however long the machine takes; asserts no duration.
            assert await asyncio.to_thread(receiver.arrived.wait, 60)
    [request] = receiver.received
    assert request.json["type"] == "CONSENT" and request.verified(created["secret"])
