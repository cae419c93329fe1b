"""The development page that shows a customer's live inbox: served in development only,
and every GraphQL document it sends is valid against the schema."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
from graphql import parse, validate

from tests.conftest import make_settings
from tests.core.support import raw_id
from tests.delivery.support import send
from tests.live.test_subscriptions import customer_token, setup_customers
from tests.live.ws import connect
from tests.schema.schema_paths import graphql_schema
from tidings.api.app import LIVE_PAGE, create_app
from tidings.core.models.messages import Notification


def page_documents() -> dict[str, str]:
    source = LIVE_PAGE.read_text()
    block = re.search(r"const DOCUMENTS = \{(.*?)\};", source, re.S)
    assert block, "the page keeps its documents in `const DOCUMENTS = {...}`"
    pairs = re.findall(r'(\w+):\s*("(?:[^"\\]|\\.)*")', block.group(1))
    return {name: json.loads(text) for name, text in pairs}


def test_every_document_on_the_page_is_valid():
    documents = page_documents()
    assert {"notifications", "inboxUpdates", "inbox", "markAllRead"} <= set(documents)
    schema = graphql_schema()
    for name, text in documents.items():
        assert validate(schema, parse(text)) == [], name


async def test_the_page_is_served_in_development_only(db):
    for env, status in (("development", 200), ("production", 404)):
        app = create_app(make_settings(db, TIDINGS_ENV=env), manage_database=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/live")
        assert response.status_code == status, env
        if status == 200:
            assert "graphql-transport-ws" in response.text
            assert response.headers["content-type"].startswith("text/html")


async def test_the_pages_conversation_shows_a_notification_and_reads_it(live):
    """What the page's script does, frame for frame, against a real server."""
    docs = page_documents()
    token, (alice, bob) = await setup_customers(live, 2)
    await send(live.api, token, "news", alice["id"], title="Before the page opened")
    for _ in range(100):  # the in-process worker stores it in a moment
        if await Notification.filter(customer_id=raw_id(alice["id"])).exists():
            break
        await asyncio.sleep(0.05)
    async with connect(live.ws_url, customer_token(live, alice)) as page:
        inbox = await page.next(await page.subscribe(docs["inbox"]))
        assert [e["node"]["title"] for e in inbox["data"]["inbox"]["edges"]] == [
            "Before the page opened"
        ]
        assert inbox["data"]["unreadCount"] == 1
        notes = await page.subscribe(docs["notifications"])
        updates = await page.subscribe(docs["inboxUpdates"])
        await send(live.api, token, "news", bob["id"], title="Not for Alice")
        await send(live.api, token, "news", alice["id"], title="Your order shipped")
        shown = (await page.next(notes, timeout=1.0))["data"]["notifications"]
        assert shown["title"] == "Your order shipped"
        mark = await page.subscribe(docs["markAllRead"])
        got = await page.payloads([mark, updates])
        assert got[mark]["data"]["markAllRead"] == {"unreadCount": 0, "errors": []}
        update = got[updates]["data"]["inboxUpdates"]
        assert update["unreadCount"] == 0 and shown["id"] in update["readIds"]
