"""Webhook fixtures: a local receiver, the app (its dispatcher driven by the test), and the
mail-wired app of the delivery tests for events that need a real send."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Api, data, make_settings
from tests.delivery.conftest import mail_api, smtp  # noqa: F401 (fixtures used here)
from tests.webhooks.receiver import Receiver
from tidings.api.app import create_app

CREATE = """
mutation($i: CreateWebhookInput!) { createWebhook(input: $i) {
  webhook { id url events createdAt } secret errors { code field message } } }
"""
DELIVERIES = """
query($id: ID!, $first: Int, $after: String) { webhookDeliveries(webhookId: $id, first: $first,
  after: $after) {
  nodes { id eventId eventType status attempts lastError lastStatusCode nextAttemptAt
          deliveredAt createdAt }
  pageInfo { hasNextPage endCursor } } }
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver().start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
async def hook_api(db: str) -> AsyncIterator[Api]:
    app = create_app(make_settings(db, TIDINGS_IN_PROCESS_WORKER="false"), manage_database=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield Api(client=c, app=app)
    await app.state.runtime.webhooks.aclose()
    app.state.runtime.templates.close()


async def create_webhook(api: Api, token: str, url: str, events: list[str]) -> dict[str, Any]:
    """The createWebhook payload (webhook, secret, errors)."""
    return data(await api.gql(CREATE, {"i": {"url": url, "events": events}}, token))[
        "createWebhook"
    ]


async def attempts(api: Api, token: str, webhook_id: str, first: int = 20) -> list[dict]:
    result = data(await api.gql(DELIVERIES, {"id": webhook_id, "first": first}, token))
    return result["webhookDeliveries"]["nodes"]
