"""Reading the audit log back in tests, and the scan for personal data in it."""

from __future__ import annotations

import json
from typing import Any

from tidings.core.models import AuditEntry


async def entries(action: str | None = None) -> list[AuditEntry]:
    """Every entry (of `action`), in chain order."""
    query = AuditEntry.all() if action is None else AuditEntry.filter(action=action)
    return await query.order_by("id")


async def assert_no_pii(*values: str | None) -> None:
    """No entry's JSON (every column) contains any of `values`."""
    needles = [value for value in values if value]
    assert needles
    for entry in await entries():
        text = json.dumps(
            {
                "action": entry.action,
                "actor_id": str(entry.actor_id),
                "customer_id": str(entry.customer_id),
                "targets": entry.targets,
                "detail": entry.detail,
                "request_id": entry.request_id,
                "ip": entry.ip,
            }
        ).lower()
        for needle in needles:
            assert needle.lower() not in text, (entry.action, needle)


def actor(entry: AuditEntry) -> str:
    """The entry's actor as a ref: "staff:<id>", "system", ..."""
    return f"{entry.actor_kind}:{entry.actor_id}" if entry.actor_id else entry.actor_kind


def request_id(response: Any) -> str:
    value = response.headers["x-request-id"]
    assert value
    return value


async def post(api: Any, query: str, token: str | None, variables: dict | None = None) -> Any:
    """A GraphQL POST whose response (headers included) the test keeps; no errors allowed."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await api.client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return response


async def since(before: int, action: str | None = None) -> list[AuditEntry]:
    """The entries appended after the first `before` (of `action`)."""
    found = (await entries())[before:]
    return [e for e in found if action is None or e.action == action]


async def count() -> int:
    return await AuditEntry.all().count()
