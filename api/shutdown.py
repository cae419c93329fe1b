"""`serve`'s graceful shutdown. On SIGTERM uvicorn stops listening, lets in-flight requests
finish for up to TIDINGS_SHUTDOWN_SECONDS (its graceful-shutdown timeout) and then runs the
lifespan's shutdown. Before that we close every live websocket with 1001 (going away: the
app reconnects, to another process, and catches up from its inbox) instead of uvicorn's
1012, and tell the in-process worker to stop claiming, so it drains beside the requests
rather than after them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.websockets import WebSocket

GOING_AWAY = 1001
logger = logging.getLogger("tidings.shutdown")


class GoingAway:
    """The websockets open on this process, and what to start when the server shuts down."""

    def __init__(self) -> None:
        self.sockets: set[WebSocket] = set()
        self.callbacks: list[Callable[[], Any]] = []
        self.begun = False

    def hold(self, websocket: WebSocket) -> None:
        """Hold `websocket` while its handler runs (api/context.py; `let_go` in a `finally`).
        Not a context manager: its generator would be kept for the socket's whole life."""
        self.sockets.add(websocket)

    def let_go(self, websocket: WebSocket) -> None:
        self.sockets.discard(websocket)

    def on_begin(self, callback: Callable[[], Any]) -> None:
        self.callbacks.append(callback)

    async def begin(self, wait: float) -> None:
        """Run the callbacks, then close every socket with 1001, waiting `wait` seconds at most
        for the clients to answer the close."""
        if self.begun:
            return
        self.begun = True
        for callback in self.callbacks:
            callback()
        closing = [asyncio.ensure_future(_close(ws)) for ws in list(self.sockets)]
        if closing:
            logger.info("closing %d websocket(s) with %d", len(closing), GOING_AWAY)
            await asyncio.wait(closing, timeout=wait)


async def _close(websocket: WebSocket) -> None:
    # The client may be gone already, or its handler closing it at the same moment.
    with contextlib.suppress(Exception):
        await websocket.close(code=GOING_AWAY, reason="Server shutting down")


class GracefulServer(uvicorn.Server):
    """uvicorn's server, which closes the app's websockets with 1001 once it stops listening
    and before it shuts its connections down."""

    def __init__(self, config: uvicorn.Config, going_away: GoingAway) -> None:
        super().__init__(config)
        self.going_away = going_away

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections while the sockets close
        deadline = self.config.timeout_graceful_shutdown or 0
        started = time.monotonic()
        await self.going_away.begin(deadline)
        # One deadline for both: what the sockets' closing took is the requests' less.
        spent = time.monotonic() - started
        self.config.timeout_graceful_shutdown = max(1, round(deadline - spent))
        await super().shutdown(sockets)
