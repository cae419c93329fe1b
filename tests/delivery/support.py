"""Shared set-up for the delivery tests: customers, categories, consent and sends made through
the API, and a quick way to read what the outbox holds."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from tests.conftest import Api, data
from tests.core.support import create_category, create_customer, raw_id
from tidings.core.enums import Role
from tidings.core.models.messages import Delivery

__all__ = [
    "create_category",
    "create_customer",
    "explain",
    "grant",
    "raw_id",
    "rows",
    "send",
    "send_payload",
    "set_preference",
    "withdraw",
]

GRANT = """
mutation($i: GrantPermissionInput!) { grantPermission(input: $i) { grant { status } errors { code } } }
"""
WITHDRAW = """
mutation($i: WithdrawPermissionInput!) { withdrawPermission(input: $i) { grant { status } errors { code } } }
"""
PREFERENCE = """
mutation($i: SetPreferenceInput!) { setPreference(input: $i) {
  preference { category channels frequency quietHours { start end } } errors { code field } } }
"""
SEND = """
mutation($i: SendInput!) { send(input: $i) {
  message { id status deliveryCounts { status count } } errors { code field message } } }
"""
EXPLAIN = """
query($c: ID!, $cat: String!, $ch: String!) { explainDelivery(customerId: $c, category: $cat, channel: $ch) {
  status reason channel notBefore rules { rule verdict detail channel } } }
"""


async def grant(api: Api, token: str, customer: str, category: str, channel: str = "email") -> None:
    variables = {
        "i": {"customerId": customer, "channel": channel, "category": category, "source": "api"}
    }
    payload = data(await api.gql(GRANT, variables, token))["grantPermission"]
    assert payload["errors"] == [], payload["errors"]


async def withdraw(
    api: Api, token: str, customer: str, category: str, channel: str = "email"
) -> None:
    variables = {
        "i": {"customerId": customer, "channel": channel, "category": category, "source": "api"}
    }
    payload = data(await api.gql(WITHDRAW, variables, token))["withdrawPermission"]
    assert payload["errors"] == [], payload["errors"]


async def set_preference(
    api: Api,
    token: str,
    customer: str,
    category: str,
    channels: list[str],
    frequency: str = "REALTIME",
    quiet: tuple[str, str] | None = None,
) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "i": {
            "customerId": customer,
            "category": category,
            "channels": channels,
            "frequency": frequency,
        }
    }
    if quiet is not None:
        variables["i"]["quietHours"] = {"start": quiet[0], "end": quiet[1]}
    payload = data(await api.gql(PREFERENCE, variables, token))["setPreference"]
    assert payload["errors"] == [], payload["errors"]
    return payload["preference"]


async def send_payload(api: Api, token: str, category: str, to: dict[str, Any], **extra: Any):
    """The raw `send` payload (message and errors)."""
    variables = {
        "i": {
            "idempotencyKey": extra.pop("key", None) or f"k-{secrets.token_hex(6)}",
            "category": category,
            "to": to,
            **extra,
        }
    }
    return data(await api.gql(SEND, variables, token))["send"]


async def send(
    api: Api,
    token: str,
    category: str,
    to: dict[str, Any] | str,
    *,
    title: str | None = "Hello",
    body: str = "World",
    **extra: Any,
) -> dict[str, Any]:
    """Send (inline content unless `title` is None) and return the message; must succeed."""
    if isinstance(to, str):
        to = {"customerId": to}
    if title is not None:
        extra["content"] = {"title": title, "body": body}
    payload = await send_payload(api, token, category, to, **extra)
    assert payload["errors"] == [], payload["errors"]
    return payload["message"]


async def rows(message: dict[str, Any] | str | uuid.UUID) -> list[Delivery]:
    """The message's deliveries, straight from the outbox."""
    if isinstance(message, dict):
        message = message["id"]
    message_id = message if isinstance(message, uuid.UUID) else raw_id(message)
    return await Delivery.filter(message_id=message_id).order_by("created_at", "id")


async def explain(api: Api, token: str, customer: str, category: str, channel: str):
    return await api.gql(EXPLAIN, {"c": customer, "cat": category, "ch": channel}, token)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def held_digests(api: Api) -> tuple[list[dict[str, Any]], Delivery]:
    """Two customers whose weekly marketing is held for a daily digest: 3 sends to one, 4 to
    the other. Returns the sends and the first one's stored row (DEFERRED, reason DIGEST)."""
    _, token = await api.staff(Role.ADMIN)
    await create_category(api, token, "weekly", defaultChannels=["email"])
    # Ordinary customers get marketing as a daily digest (the default tier policy).
    first = await create_customer(api, token, email="a@example.com", timezone="UTC")
    second = await create_customer(api, token, email="b@example.com", timezone="UTC")
    for customer in (first, second):
        await grant(api, token, customer["id"], "weekly")
    held = []
    for customer, letter, count in ((first, "A", 3), (second, "B", 4)):
        for n in range(count):
            key = f"{letter.lower()}{n}"
            held.append(
                await send(api, token, "weekly", customer["id"], title=f"{letter}{n}", key=key)
            )
    [row] = await rows(held[0])
    return held, row
