"""Set-up for the dashboard tests: staff who sign in with a password, and a history of sends
made through the real path (GraphQL `send`, the worker's providers, the customer's reads)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import httpx

from tests.conftest import PASSWORD, Api, data
from tests.core.support import create_category, create_customer, raw_id
from tests.delivery.support import grant, send
from tests.inbox.support import MARK_ALL_READ
from tidings.core.enums import Role
from tidings.core.models import Staff

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@dataclass
class World:
    admin_token: str
    customers: list[str]  # global ids
    messages: list[str]  # global ids


async def member(api: Api, role: Role) -> Staff:
    """A staff member whose password is tests.conftest.PASSWORD."""
    email = f"{role.value.lower()}-{secrets.token_hex(3)}@example.com"
    staff_id, _ = await api.staff(role, email=email)
    return await Staff.get(id=staff_id)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, html[:500]
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    """Open the sign-in form and submit it, as a browser does (its cookie, its CSRF field)."""
    form = await client.get("/dashboard")
    assert form.status_code == 200
    return await client.post(
        "/dashboard/sign-in",
        data={"csrf": csrf_of(form.text), "email": email, "password": password},
    )


async def deliver(api: Api) -> None:
    """Run the worker until the outbox has nothing due."""
    while await api.runtime.worker.run_once():
        pass


async def make_world(api: Api, sends: int = 2) -> World:
    """Two categories on in_app, three customers (two granted "promos"), `sends` promos and
    one order to each; the first customer reads everything (opens)."""
    _, token = await api.staff(Role.ADMIN)
    await create_category(api, token, "promos", defaultChannels=["in_app"])
    await create_category(api, token, "orders", kind="TRANSACTIONAL", defaultChannels=["in_app"])
    customers = []
    for n, tier in enumerate(("HIGH_VALUE", "ORDINARY", "ORDINARY")):
        customer = await create_customer(api, token, name=f"Customer {n}", tier=tier)
        customers.append(customer["id"])
        if n < 2:
            await grant(api, token, customer["id"], "promos", "in_app")
    messages = []
    for _ in range(sends):
        message = await send(api, token, "promos", {"customerIds": customers})
        messages.append(message["id"])
    messages.append((await send(api, token, "orders", {"customerIds": customers}))["id"])
    await deliver(api)
    reader = api.customer_token(raw_id(customers[0]))
    result = data(await api.gql(MARK_ALL_READ, {}, reader))
    assert result["markAllRead"]["errors"] == []
    return World(token, customers, messages)
