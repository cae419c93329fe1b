"""Delivery fixtures: the app wired to a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Api, data, make_settings
from tests.providers.peers import SmtpSink, start_smtp
from tidings.api.app import create_app
from tidings.core.enums import Role


@pytest.fixture
def smtp() -> Iterator[Any]:
    sink = SmtpSink()
    controller = start_smtp(sink)
    sink.controller = controller  # type: ignore[attr-defined]
    yield sink
    sink.controller.stop()  # type: ignore[attr-defined]  # the test may have replaced it


def smtp_settings(port: int) -> dict[str, str]:
    return {
        "TIDINGS_SMTP_HOST": "127.0.0.1",
        "TIDINGS_SMTP_PORT": str(port),
        "TIDINGS_SMTP_FROM": "news@example.com",
        "TIDINGS_SMTP_SECURITY": "none",
    }


@contextlib.asynccontextmanager
async def mail_app(db: str, smtp: Any, **settings: str) -> AsyncIterator[Api]:
    """The app wired to the local SMTP server, its worker run by the test, with `settings`."""
    app = create_app(
        make_settings(
            db, **smtp_settings(smtp.controller.port), TIDINGS_IN_PROCESS_WORKER="false", **settings
        ),
        manage_database=False,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        yield Api(client=client, app=app)
    await app.state.runtime.registry.aclose()
    app.state.runtime.templates.close()


@pytest.fixture
async def mail_api(db: str, smtp: Any) -> AsyncIterator[Api]:
    async with mail_app(db, smtp) as api:
        yield api


async def marketing_customer(
    api: Api, *, email: str = "ann@example.com", fallback: str | None = None
) -> tuple[str, str]:
    """An admin token and a HIGH_VALUE customer id, with a MARKETING category `promos`."""
    _, token = await api.staff(Role.ADMIN)
    created = data(
        await api.gql(
            "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } errors { code } } }",
            {"i": {"externalId": "ann", "name": "Ann", "email": email, "tier": "HIGH_VALUE"}},
            token,
        )
    )
    category = {
        "key": "promos",
        "name": "Promotions",
        "kind": "MARKETING",
        "defaultChannels": ["email"],
    }
    if fallback:
        category["fallbackChannel"] = fallback
    data(
        await api.gql(
            "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { category { key } errors { code } } }",
            {"i": category},
            token,
        )
    )
    return token, created["createCustomer"]["customer"]["id"]


async def grant(api: Api, token: str, customer_id: str, channel: str = "email") -> None:
    result = data(
        await api.gql(
            "mutation($i: GrantPermissionInput!) { grantPermission(input: $i) { errors { code } } }",
            {
                "i": {
                    "customerId": customer_id,
                    "channel": channel,
                    "category": "promos",
                    "source": "signup_form",
                }
            },
            token,
        )
    )
    assert result["grantPermission"]["errors"] == []


SEND = """
mutation($i: SendInput!) { send(input: $i) { message { id } errors { code field message } } }
"""
DELIVERIES = """
query($id: ID!) { message(id: $id) { status deliveries { edges { node {
  id channel status reason attempts provider notBefore } } } } }
"""


async def send(api: Api, token: str, customer_id: str, key: str, **extra: Any) -> str:
    result = data(
        await api.gql(
            SEND,
            {
                "i": {
                    "idempotencyKey": key,
                    "category": "promos",
                    "to": {"customerId": customer_id},
                    "content": {"title": "Spring sale", "body": "20% off, today only."},
                    **extra,
                }
            },
            token,
        )
    )["send"]
    assert result["errors"] == [], result["errors"]
    return result["message"]["id"]


async def deliveries(api: Api, token: str, message_id: str) -> list[dict[str, Any]]:
    result = data(await api.gql(DELIVERIES, {"id": message_id}, token))
    return [edge["node"] for edge in result["message"]["deliveries"]["edges"]]
