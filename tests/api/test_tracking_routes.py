"""The tracking endpoints answer the reader even when recording fails: the click still
redirects, the pixel still shows, and the log says what failed without the token."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx
from starlette.applications import Starlette

from tests.delivery.support import create_category, create_customer, raw_id, send
from tidings.api.tracking import tracking_routes
from tidings.core.delivery.feedback import FeedbackRecorder
from tidings.core.enums import Role
from tidings.core.models import Delivery
from tidings.core.services.engagement import EngagementService


async def announcing_fails(rows: Sequence[Delivery]) -> None:
    raise RuntimeError("the live bus is down")


async def test_a_failure_to_record_still_redirects_and_shows_the_pixel(api, caplog):
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "receipts", "TRANSACTIONAL", defaultChannels=["email"])
    customer = await create_customer(api, admin, email="rita@example.com")
    await send(api, admin, "receipts", customer["id"])
    delivery = await Delivery.get(customer_id=raw_id(customer["id"]))
    signer = api.runtime.tracking
    engagement = EngagementService(FeedbackRecorder(on_change=announcing_fails))
    app = Starlette(routes=tracking_routes(signer, engagement))
    click = signer.click_token(delivery.id, "https://shop.example/receipt")
    pixel = signer.open_token(delivery.id)
    transport = httpx.ASGITransport(app=app)
    with caplog.at_level(logging.WARNING):
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            followed = await client.get(f"/t/c/{click}")
            shown = await client.get(f"/t/o/{pixel}.gif")
    assert (followed.status_code, followed.headers["location"]) == (
        302,
        "https://shop.example/receipt",
    )
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/gif"
    warnings = [r.getMessage() for r in caplog.records if r.name == "tidings.api.tracking"]
    assert warnings == ["engagement not recorded (RuntimeError)"]
    assert click not in caplog.text and pixel not in caplog.text
