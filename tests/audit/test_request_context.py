"""Every request runs in an audit scope: its id (a caller's well-formed X-Request-ID, or a new
one, echoed back), the peer's address and, once authenticated, its actor."""

from __future__ import annotations

import pytest

from tests.audit.support import actor, count, since
from tests.conftest import Api, data
from tests.core.support import admin, create_customer
from tidings.api.middleware import REQUEST_ID
from tidings.core.audit import current_request

READ = "query Read($id: ID!) { customer(id: $id) { email } }"


async def read(api: Api, token: str, customer: str, **headers: str | bytes):
    response = await api.client.post(
        "/graphql",
        json={"query": READ, "variables": {"id": customer}},
        headers={"Authorization": f"Bearer {token}", **headers},
    )
    assert response.status_code == 200
    data(response.json())
    return response


async def test_a_well_formed_request_id_is_kept_and_echoed(api: Api) -> None:
    staff_id, token = await admin(api)
    customer = await create_customer(api, token, email="rid@example.com")
    before = await count()
    response = await read(api, token, customer["id"], **{"X-Request-ID": "edge-42.a_B"})
    assert response.headers["x-request-id"] == "edge-42.a_B"
    (entry,) = await since(before)
    assert (entry.request_id, entry.ip, actor(entry)) == (
        "edge-42.a_B", "127.0.0.1", f"staff:{staff_id}",
    )  # fmt: skip


@pytest.mark.parametrize(
    "given",
    ["", "a" * 65, "has space", "semi;colon", "back\\slash", "ünï".encode(), "<script>"],
)
async def test_a_malformed_request_id_is_replaced(api: Api, given: str | bytes) -> None:
    _, token = await admin(api)
    customer = await create_customer(api, token, email="bad@example.com")
    before = await count()
    response = await read(api, token, customer["id"], **{"X-Request-ID": given})
    echoed = response.headers["x-request-id"]
    assert echoed != given and REQUEST_ID.fullmatch(echoed)
    assert response.headers.get_list("x-request-id") == [echoed]
    (entry,) = await since(before)
    assert entry.request_id == echoed


async def test_every_response_carries_an_id_and_each_request_its_own(api: Api) -> None:
    ids = set()
    for method, path in (
        ("GET", "/healthz"),
        ("GET", "/preferences/not-a-token"),
        ("GET", "/dashboard"),
        ("GET", "/nowhere"),
        ("POST", "/graphql"),
    ):
        response = await api.client.request(method, path)
        ids.add(response.headers["x-request-id"])
    too_big = await api.client.post("/graphql", content=b"x" * (2 * 1024 * 1024))
    assert too_big.status_code == 413
    ids.add(too_big.headers["x-request-id"])
    assert len(ids) == 6
    assert current_request() is None  # nothing leaks out of a request


async def test_an_anonymous_change_is_recorded_as_the_system(api: Api) -> None:
    before = await count()
    response = await api.client.post(
        "/graphql",
        json={"query": 'mutation { login(email: "x@example.com", password: "y") { token } }'},
    )
    (entry,) = await since(before)
    assert actor(entry) == "system"
    assert entry.request_id == response.headers["x-request-id"]
