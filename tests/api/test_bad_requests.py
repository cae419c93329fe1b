"""Requests that are not GraphQL: a JSON body that is not an object, broken JSON, a wrong
content type, a client that hangs up mid-body. Each is a clean 4xx with a GraphQL-style
`errors` body (or, for the client that left, one DEBUG line): never a 500, never a traceback
in the log, which anyone could otherwise flood."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from tests.conftest import make_settings
from tests.live.conftest import free_port
from tidings.api.app import create_app

NOT_OBJECTS = ["null", '"str"', "5", "-1.5e3", "true", "false"]


def assert_clean_400(response: httpx.Response, needle: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    [error] = body["errors"]
    assert needle in error["message"], error
    assert error["extensions"] == {"code": "BAD_REQUEST"}


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.name} {r.levelname} {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.WARNING or r.exc_info
    ]


@pytest.mark.parametrize("body", NOT_OBJECTS)
async def test_a_json_body_that_is_not_an_object_is_a_400(api, caplog, body):
    caplog.set_level(logging.DEBUG)
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert_clean_400(response, "must be a JSON object")
    assert not errors_logged(caplog)


@pytest.mark.parametrize(
    ("body", "content_type", "needle"),
    [
        ("{bad", "application/json", "Unable to parse request body as JSON"),
        ("", "application/json", "Unable to parse request body as JSON"),
        ("[]", "application/json", "Batching is not enabled"),
        ('{"query": "{ __typename }"}', "text/plain", "Unsupported content type"),
        ('{"query": 5}', "application/json", "`query` must be a string"),
        ('{"query": "{ __typename }", "variables": 5}', "application/json", "`variables`"),
    ],
    ids=["broken", "empty", "batch", "text-plain", "query-not-string", "variables-not-object"],
)
async def test_other_malformed_requests_are_clean_400s(api, caplog, body, content_type, needle):
    caplog.set_level(logging.DEBUG)
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": content_type}
    )
    assert_clean_400(response, needle)
    assert not errors_logged(caplog)


@pytest.fixture
async def served(db: str) -> AsyncIterator[int]:
    """A real uvicorn on 127.0.0.1 (its own error logging included); yields the port."""
    app = create_app(make_settings(db), manage_database=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="debug", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def hang_up_mid_body(port: int) -> None:
    """Promise 1,000 bytes, send 10, and close the connection."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n" + b'{"query": '
    )
    await writer.drain()
    await asyncio.sleep(0.1)  # the view is waiting for the rest of the body
    writer.close()
    await writer.wait_closed()


async def test_a_client_that_hangs_up_mid_body_is_one_debug_line(served, caplog):
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        await hang_up_mid_body(served)
    await asyncio.sleep(0.3)  # uvicorn notices the closed connections
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{served}") as client:
        health = await client.get("/healthz")
        answered = await client.post("/graphql", json={"query": "{ __typename }"})
    assert health.status_code == 200
    assert answered.json() == {"data": {"__typename": "Query"}}
    assert not errors_logged(caplog)
    assert "Exception in ASGI application" not in caplog.text
    lines = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(lines) == 3 and all(r.levelno == logging.DEBUG for r in lines), lines
