"""Engagement tracking end to end: a marketing mail through a real aiosmtpd carries tracked
links and an open pixel; httpx follows a tracked link through the app served over HTTP to a
local page and lands on the original URL; the pixel records the open once; unsubscribe and
preference links are never rewritten; TIDINGS_TRACKING=off and transactional categories send
their links as they are; tracking costs no extra statement per batch."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from tests.conftest import Api, data, make_settings
from tests.delivery.conftest import grant, mail_app, marketing_customer, smtp_settings
from tests.delivery.support import create_category, create_customer, raw_id
from tests.delivery.support import grant as grant_on
from tests.delivery.support import send as send_to
from tests.pages.conftest import free_port
from tests.sql_statements import statement_log
from tidings.api.app import create_app
from tidings.core.enums import Role
from tidings.core.models import Category, Delivery, DeliveryEvent

HTML = (
    '<html><body><p>Spring sale: <a href="{page}?item=42&amp;ref=mail">see it</a>, '
    '<a href="mailto:help@shop.example">ask us</a>.</p></body></html>'
)
TEXT = "Spring sale: {page}?item=42&ref=mail. Questions: mailto:help@shop.example"
LINKED = {
    "body": "See https://shop.example/x",
    "html": "<a href='https://shop.example/x'>x</a>",
}


class Landing:
    """The shop's own page, served on loopback: what a tracked link must land on."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        landing = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                landing.paths.append(self.path)
                body = b"<html><body>the sale page</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def landing() -> Iterator[Landing]:
    page = Landing()
    yield page
    page.close()


@contextlib.asynccontextmanager
async def served_mail_app(db: str, smtp: Any, **settings: str) -> AsyncIterator[Api]:
    """The app over real HTTP on loopback (its own TIDINGS_PUBLIC_URL), mailing to aiosmtpd."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(
        make_settings(
            db,
            **smtp_settings(smtp.controller.port),
            TIDINGS_IN_PROCESS_WORKER="false",
            TIDINGS_PUBLIC_URL=url,
            **settings,
        ),
        manage_database=False,
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            yield Api(client=client, app=app)
    finally:
        server.should_exit = True
        await task


async def mail_one(api: Api, smtp: Any, page: str, key: str = "sale-1") -> tuple[Any, str]:
    """A marketing mail (HTML and text) to a granted customer, sent by the worker."""
    token, customer = await marketing_customer(api)
    await grant(api, token, customer)
    content = {"title": "Sale", "body": TEXT.format(page=page), "html": HTML.format(page=page)}
    await send_to(api, token, "promos", customer, title=None, content=content)
    assert await api.runtime.worker.run_once() == 1
    return smtp.received[-1].message, customer


def parts(mail: Any) -> tuple[str, str]:
    return mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()


async def test_a_tracked_link_lands_on_the_original_page_and_records_the_click(db, smtp, landing):
    async with served_mail_app(db, smtp) as api:
        public = api.runtime.settings.public_url
        mail, customer = await mail_one(api, smtp, f"{landing.url}/sale")
        text, html = parts(mail)
        [tracked] = re.findall(rf"{re.escape(public)}/t/c/[A-Za-z0-9_-]+", html)
        assert tracked in text  # the text part's bare URL too, without its full stop
        assert f"{landing.url}/sale" not in html and f"{landing.url}/sale" not in text
        # Never rewritten: the unsubscribe and preference links (footer, header), mailto.
        [unsubscribe] = re.findall(r"<([^>]+/unsubscribe/[^>]+)>", str(mail["List-Unsubscribe"]))
        assert f'href="{unsubscribe}"' in html
        assert f"Unsubscribe: {unsubscribe}" in text
        assert "mailto:help@shop.example" in text
        assert 'href="mailto:help@shop.example"' in html
        assert re.search(rf"Manage your preferences: {re.escape(public)}/preferences/", text)

        async with httpx.AsyncClient(follow_redirects=True) as browser:
            landed = await browser.get(tracked)
        assert landed.status_code == 200 and landed.text.endswith("the sale page</body></html>")
        assert str(landed.url) == f"{landing.url}/sale?item=42&ref=mail"
        assert landing.paths == ["/sale?item=42&ref=mail"]
        assert [r.status_code for r in landed.history] == [302]

        [row] = await Delivery.filter(customer_id=raw_id(customer))
        assert row.clicked_at is not None and row.opened_at == row.clicked_at
        events = await DeliveryEvent.filter(delivery_id=row.id).order_by("kind")
        assert [(e.kind, e.provider) for e in events] == [
            ("CLICKED", "tracking"),
            ("OPENED", "tracking"),  # a click implies an open
        ]
        assert events[0].detail == f"{landing.url}/sale"  # no query: it may be personal


async def test_the_pixel_records_the_open_once_and_keeps_the_first_time(mail_api, smtp):
    api = mail_api
    mail, customer = await mail_one(api, smtp, "https://shop.example/sale")
    _, html = parts(mail)
    [pixel] = re.findall(r'<img src="([^"]+/t/o/[A-Za-z0-9_-]+\.gif)"', html)
    assert html.index(pixel) < html.index("</body>")
    path = urlsplit(pixel).path
    first = await api.client.get(path)
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/gif"
    assert "no-store" in first.headers["cache-control"]
    assert first.headers["referrer-policy"] == "no-referrer"
    assert first.content.startswith(b"GIF89a")
    [row] = await Delivery.filter(customer_id=raw_id(customer))
    opened = row.opened_at
    assert opened is not None and row.clicked_at is None
    assert (await api.client.get(path)).status_code == 200
    assert (await api.client.head(path)).status_code == 200  # a scanner's: nothing recorded
    await row.refresh_from_db()
    assert row.opened_at == opened
    assert await DeliveryEvent.filter(delivery_id=row.id).count() == 1


async def test_tampered_and_foreign_tokens_answer_404_and_never_redirect(mail_api, smtp):
    api = mail_api
    mail, customer = await mail_one(api, smtp, "https://shop.example/sale")
    _, html = parts(mail)
    [tracked] = re.findall(r'href="[^"]+(/t/c/[A-Za-z0-9_-]+)"', html)
    [pixel] = re.findall(r'src="[^"]+(/t/o/[A-Za-z0-9_-]+)\.gif"', html)
    token = tracked.removeprefix("/t/c/")
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    other = api.runtime.tracking.__class__("another installation " + "z" * 32, "http://x")
    row = await Delivery.get(customer_id=raw_id(customer))
    foreign = other.click_token(row.id, "https://evil.example/")
    for path in (
        f"/t/c/{flipped}",
        f"/t/c/{foreign}",
        f"/t/c/{pixel.removeprefix('/t/o/')}",  # an open token is no link
        f"/t/o/{token}.gif",  # nor a link token a pixel
        f"/t/o/{other.open_token(row.id)}.gif",
        "/t/c/not%20a%20token",
    ):
        answer = await api.client.get(path)
        assert answer.status_code == 404, path
        assert "location" not in answer.headers
    assert await DeliveryEvent.filter(delivery_id=row.id).count() == 0


async def test_tracking_off_sends_links_as_they_are_and_records_nothing(db, smtp):
    async with mail_app(db, smtp, TIDINGS_TRACKING="off") as api:
        mail, customer = await mail_one(api, smtp, "https://shop.example/sale")
        text, html = parts(mail)
        assert "/t/c/" not in html + text and "/t/o/" not in html
        assert 'href="https://shop.example/sale?item=42&amp;ref=mail"' in html
        # A link from mail sent before tracking was turned off still works; nothing recorded.
        row = await Delivery.get(customer_id=raw_id(customer))
        link = api.runtime.tracking.click_url(row.id, "https://shop.example/sale")
        answer = await api.client.get(urlsplit(link).path)
        assert (answer.status_code, answer.headers["location"]) == (
            302,
            "https://shop.example/sale",
        )
        assert await DeliveryEvent.filter(delivery_id=row.id).count() == 0


async def test_transactional_mail_is_not_tracked_unless_its_category_asks(mail_api, smtp):
    api = mail_api
    _, admin = await api.staff(Role.ADMIN)
    for key, extra in (("receipts", {}), ("tracked-receipts", {"trackEngagement": True})):
        await create_category(api, admin, key, "TRANSACTIONAL", defaultChannels=["email"], **extra)
    customer = await create_customer(api, admin, email="tom@example.com")
    for key in ("receipts", "tracked-receipts"):
        content = {"title": key, **LINKED}
        await send_to(api, admin, key, customer["id"], title=None, content=content)
    assert await api.runtime.worker.run_once() == 2
    tracked = {}
    for received in smtp.received:
        text, html = parts(received.message)
        tracked[received.message["Subject"]] = ("/t/c/" in text, "/t/c/" in html, "/t/o/" in html)
    assert tracked == {"receipts": (False, False, False), "tracked-receipts": (True, True, True)}


CATEGORY = "{ categories { key kind trackEngagement } }"


async def test_track_engagement_defaults_by_kind_and_can_be_changed(api):
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "news")
    await create_category(api, admin, "alerts", "TRANSACTIONAL")
    await create_category(api, admin, "quiet", trackEngagement=False)
    listed = data(await api.gql(CATEGORY, token=admin))["categories"]
    assert {c["key"]: c["trackEngagement"] for c in listed} == {
        "alerts": False,
        "news": True,
        "quiet": False,
    }
    changed = data(
        await api.gql(
            'mutation { updateCategory(input: {key: "alerts", trackEngagement: true}) {'
            " category { trackEngagement } errors { code } } }",
            token=admin,
        )
    )["updateCategory"]
    assert changed == {"category": {"trackEngagement": True}, "errors": []}
    assert (await Category.get(key="alerts")).track_engagement


async def test_tracking_costs_no_extra_statement_per_batch(db, smtp):
    counts = []
    for setting in ("off", "on"):
        async with mail_app(db, smtp, TIDINGS_TRACKING=setting) as api:
            _, admin = await api.staff(Role.ADMIN)
            key = f"promos-{setting}"
            await create_category(api, admin, key, defaultChannels=["email"])
            customers = []
            for n in range(3):
                address = f"c{n}-{setting}@example.com"
                # HIGH_VALUE: no tier digest holds the marketing back.
                customer = await create_customer(api, admin, email=address, tier="HIGH_VALUE")
                await grant_on(api, admin, customer["id"], key)
                customers.append(customer["id"])
            content = {"title": "Sale", **LINKED}
            await send_to(api, admin, key, {"customerIds": customers}, title=None, content=content)
            with statement_log() as log:
                assert await api.runtime.worker.run_once() == 3
            counts.append(log.tables())
    assert counts[0] == counts[1]
    assert sum("/t/c/" in r.message.get_body(("html",)).get_content() for r in smtp.received) == 3
