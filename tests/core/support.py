"""Shared set-up for the domain tests: customers and categories made through the API."""

from __future__ import annotations

import base64
import secrets
import uuid
from typing import Any

from tests.conftest import Api, data
from tidings.core.enums import Role

CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id externalId name email phone emailMasked locale timezone tier attributes }
    errors { code field message }
  }
}
"""

CREATE_CATEGORY = """
mutation($input: CreateCategoryInput!) {
  createCategory(input: $input) {
    category { key name kind defaultChannels respectQuietHours required fallbackChannel }
    errors { code field message }
  }
}
"""


def raw_id(global_id: str) -> uuid.UUID:
    """The UUID inside a Relay global ID."""
    _, _, value = base64.b64decode(global_id).decode().partition(":")
    return uuid.UUID(value)


async def admin(api: Api) -> tuple[uuid.UUID, str]:
    return await api.staff(Role.ADMIN)


async def create_customer(api: Api, token: str, **fields: Any) -> dict[str, Any]:
    """A customer made by `token` (an admin's); returns the payload's customer."""
    fields.setdefault("externalId", f"ext-{secrets.token_hex(4)}")
    payload = data(await api.gql(CREATE_CUSTOMER, {"input": fields}, token))["createCustomer"]
    assert payload["errors"] == [], payload["errors"]
    return payload["customer"]


async def create_category(
    api: Api, token: str, key: str, kind: str = "MARKETING", **fields: Any
) -> dict[str, Any]:
    variables = {"input": {"key": key, "name": key.title(), "kind": kind, **fields}}
    payload = data(await api.gql(CREATE_CATEGORY, variables, token))["createCategory"]
    assert payload["errors"] == [], payload["errors"]
    return payload["category"]


def only_error(payload: dict[str, Any]) -> dict[str, Any]:
    """The single UserError of a failed mutation payload."""
    assert len(payload["errors"]) == 1, payload["errors"]
    return payload["errors"][0]
