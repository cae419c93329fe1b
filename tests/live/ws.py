"""A minimal graphql-transport-ws client over `websockets`, for tests against a real server.

Kept small and literal on purpose: the tests should see the protocol's frames and close
codes exactly as a customer's app would.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

PROTOCOL = "graphql-transport-ws"
_ids = itertools.count(1)


class Closed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason


class LiveClient:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op_id = str(next(_ids))
        payload = {"query": query, "variables": variables or {}}
        await self.socket.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))
        return op_id

    async def complete(self, op_id: str) -> None:
        await self.socket.send(json.dumps({"id": op_id, "type": "complete"}))

    async def frame(self, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        """The next frame other than pong; raises `Closed` when the server closes."""
        while True:
            try:
                raw = await asyncio.wait_for(self.socket.recv(), timeout)
            except websockets.ConnectionClosed as closed:
                rcvd = closed.rcvd
                raise Closed(rcvd.code if rcvd else None, rcvd.reason if rcvd else "") from None
            message = json.loads(raw)
            if message.get("type") != "pong":
                return message

    async def next(
        self,
        op_id: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """The payload of the next `next` frame (for `op_id` if given)."""
        while True:
            message = await self.frame(timeout)
            if message["type"] == "next" and (op_id is None or message["id"] == op_id):
                return message["payload"]
            if message["type"] in ("error", "complete") and message.get("id") == op_id:
                raise AssertionError(f"operation ended: {message}")

    async def payloads(self, ops: list[str]) -> dict[str, dict[str, Any]]:
        """The next payload of each of `ops`, in whatever order they come (`next` drops the
        frames of other operations, so it suits one operation at a time)."""
        got: dict[str, dict[str, Any]] = {}
        while len(got) < len(ops):
            frame = await self.frame()
            if frame["type"] == "complete" and frame["id"] in got:
                continue  # a query or mutation ends after its one result
            assert frame["type"] == "next" and frame["id"] in ops, frame
            got[frame["id"]] = frame["payload"]
        return got

    async def nothing(self, seconds: float = 0.5) -> None:
        """Assert no frame arrives for `seconds`."""
        try:
            message = await self.frame(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame: {message}")

    async def closed(self, timeout: float = 5.0) -> Closed:  # noqa: ASYNC109
        """Wait for the server to close the socket; returns the close code and reason."""
        try:
            while True:
                await self.frame(timeout)
        except Closed as closed:
            return closed


@asynccontextmanager
async def connect(
    url: str,
    token: str | None = None,
    *,
    origin: str | None = None,
    init: bool = True,
) -> AsyncIterator[LiveClient]:
    """Open a socket and, unless `init=False`, send connection_init and wait for the ack."""
    headers = {"Origin": origin} if origin else None
    async with websockets.connect(
        url, subprotocols=[PROTOCOL], additional_headers=headers, open_timeout=5
    ) as socket:
        client = LiveClient(socket)
        if init:
            payload = {"authorization": f"Bearer {token}"} if token else {}
            await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
            ack = await client.frame()
            assert ack["type"] == "connection_ack", ack
        yield client
