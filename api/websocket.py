"""The websocket side of `/graphql`: `graphql-transport-ws` with our rules on top.

- The caller is authenticated once, from `connection_init`, and checked again before every
  operation and (in `schema.live.stream`) every event; a failed check closes with 4403.
- A customer holds at most so many sockets (4429 beyond that): across API processes with
  Redis (`tidings.core.live.socket_cap`), on this process without.
- A live event's frame is serialised once for all the subscribers that get the same bytes.
- A frame that cannot be written within the send timeout (the client stopped reading) ends
  the socket with 1013: one slow client never holds up the others, nor holds their events in
  memory; the app reconnects and reads what it missed from its inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Literal

from starlette.websockets import WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.types.execution import ExecutionResult, PreExecutionError

from tidings.api.ws_protocol import LeanWebSocketProtocol
from tidings.core.audit.context import bind_actor
from tidings.core.live.events import LiveEvent
from tidings.core.live.socket_cap import LocalSocketCap, TooManySockets
from tidings.schema.context import Context, EventScope, Loaders, current_event
from tidings.schema.live.frames import (
    OperationSlot,
    current_operation,
    encode_payload,
    next_frame,
    operation_key,
    visibility,
)
from tidings.schema.live.stream import FORBIDDEN_CLOSE

TOO_MANY_CLOSE = 4429
TRY_AGAIN_CLOSE = 1013  # "try again later": a slow client, or the database failed at connect

logger = logging.getLogger("tidings.live")


# Kept under their old names: sockets per customer now live in `core.live.socket_cap`.
SocketCounter = LocalSocketCap


class LiveSocketHandler(BaseGraphQLTransportWSHandler[Context, Any]):
    context: Context
    _closing_slow: asyncio.Task[None] | None = None
    _protocol: LeanWebSocketProtocol | Literal[False] | None = False  # False: not looked up

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except TooManySockets:
            await self.websocket.close(code=TOO_MANY_CLOSE, reason="Too many connections")
        except Exception as error:
            # The token could not be checked (the database failed): say "try again later",
            # rather than drop the connection with no close frame, which apps cannot tell
            # from a network fault.
            await self._try_again_later(error, "connection_init")

    async def _try_again_later(self, error: Exception, what: str) -> None:
        """Close with 1013. The error's text may quote a query: its type only is logged."""
        logger.warning(
            "live: %s failed (%s); closing with %d", what, type(error).__name__, TRY_AGAIN_CLOSE
        )
        await self.websocket.close(code=TRY_AGAIN_CLOSE, reason="Try again later")

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            await self._release_socket()

    async def _release_socket(self) -> None:
        """Give back the customer's socket slot taken at connection_init (`on_ws_connect`)."""
        release = self.context.extra.pop("release", None)
        if release is not None:
            await release()

    async def run_operation(self, operation: Operation[Context, Any]) -> None:
        # Each operation, not only each event, is served to a caller still allowed, with
        # loaders of its own (the context lives as long as the socket).
        live = self.context.live
        viewer = self.context.connection_viewer
        if live is not None and viewer is not None:
            try:
                fresh = await live.callers.recheck(viewer)
                if fresh is not None:
                    await fresh.access()
            except Exception as error:
                # Unchecked, the operation would never start while the app waited on it
                # for good: as at connect, "try again later".
                await self._try_again_later(error, "an operation's caller check")
                self.operations.pop(operation.id, None)
                return
            if fresh is None:
                self.operations.pop(operation.id, None)
                await self.websocket.close(code=FORBIDDEN_CLOSE, reason="Forbidden")
                return
            bind_actor(fresh.ref)  # each operation runs in a task of its own
            current_event.set(
                EventScope(
                    viewer=fresh,
                    loaders=Loaders(self.context.services, fresh),
                    event=LiveEvent("", "operation", {}),
                    visibility=visibility(fresh),
                )
            )
        key = operation_key(operation.query, operation.variables, operation.operation_name)
        current_operation.set(OperationSlot(key, self, operation))
        await super().run_operation(operation)

    async def _send_result_stream(
        self, operation: Operation[Context, Any], result_source: Any
    ) -> None:
        first = True
        async for result in result_source:
            if first and isinstance(result, PreExecutionError):
                await self._handle_pre_execution_error(operation, result)
                return
            if not isinstance(result, ExecutionResult):
                await self._reject_incremental_delivery(operation)
                return
            first = False
            scope, slot = current_event.get(), current_operation.get()
            if scope is None or slot is None:
                await operation.send_next(result)
                continue
            # Kept on the event: the next subscriber that would get the same bytes is sent
            # them without running the query again (`schema.live.stream.enter`).
            counts = self.context.live.frames if self.context.live is not None else None
            payload = scope.event.frames[(slot.key, scope.visibility)] = encode_payload(
                result, counts
            )
            await slot.send(payload)

    # `schema.live.frames.FrameSocket`: how an operation's slot sends a payload.

    async def send_payload(self, operation: Operation[Context, Any], payload: str) -> None:
        counts = self.context.live.frames if self.context.live is not None else None
        await self._send_text(operation, next_frame(operation.id, payload, counts))

    def can_send_now(self) -> bool:
        """Whether `send_payload_now` can ever write: under uvicorn with our protocol."""
        return self._lean_protocol() is not None

    def send_payload_now(self, operation: Operation[Context, Any], payload: str) -> bool:
        """Write the payload's frame at once when the socket can take it without waiting
        (`LeanWebSocketProtocol.send_text_now`); False when nothing was written."""
        protocol = self._lean_protocol()
        if protocol is None or operation.completed or self._closing_slow is not None:
            return False
        if not protocol.send_text_now(next_frame(operation.id, payload, None)):
            return False
        counts = self.context.live.frames if self.context.live is not None else None
        if counts is not None:
            counts.sent += 1
            counts.direct += 1
        return True

    def _lean_protocol(self) -> LeanWebSocketProtocol | None:
        """uvicorn's protocol behind the socket's ASGI `send`, when it is ours (looked up
        once: a frame's worth of attribute lookups, for every frame)."""
        protocol = self._protocol
        if protocol is False:
            send = getattr(self.websocket.ws, "_send", None)  # type: ignore[attr-defined]
            found = getattr(send, "__self__", None)
            protocol = self._protocol = found if isinstance(found, LeanWebSocketProtocol) else None
        return protocol

    async def _send_text(self, operation: Operation[Context, Any], text: str) -> None:
        if operation.completed:
            return
        live = self.context.live
        try:
            async with asyncio.timeout(live.send_timeout if live is not None else None):
                await self.websocket.ws.send_text(text)  # type: ignore[attr-defined]
        except TimeoutError:
            # The client stopped reading: the socket is closed with 1013 and this operation
            # ends here, its subscription with it. Cancelled rather than raised: an exception
            # would pass through the subscription's generator and come back as an error
            # result for the socket.
            self._drop_slow()
            self.operations.pop(operation.id, None)
            raise asyncio.CancelledError from None
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error

    def _drop_slow(self) -> None:
        live = self.context.live
        if live is not None:
            live.frames.send_timeouts += 1
        if self._closing_slow is not None:
            return
        if live is not None:
            live.frames.slow_closed += 1
        logger.info("live: a client stopped reading; closing its socket with %d", TRY_AGAIN_CLOSE)
        self._closing_slow = asyncio.create_task(self._close_slow())

    async def _close_slow(self) -> None:
        """The close frame queues behind what the client has not read, so it goes out only
        once the client drains; a client that does not within the grace has its connection
        cut, so it holds no buffer here either."""
        live = self.context.live
        grace = live.slow_close_grace if live is not None else None
        try:
            async with asyncio.timeout(grace):
                await self.websocket.close(code=TRY_AGAIN_CLOSE, reason="Try again later")
        except TimeoutError:
            abort_transport(self.websocket.ws)  # type: ignore[attr-defined]
        except Exception:
            logger.debug("live: the slow socket went before its close")


def abort_transport(websocket: Any) -> None:
    """Cut the TCP connection under an ASGI websocket. ASGI has no message for it, so this
    reaches uvicorn's protocol behind the socket's `send` (its `transport`); on a server
    without one it does nothing, and the socket goes when its keepalive fails."""
    protocol = getattr(getattr(websocket, "_send", None), "__self__", None)
    transport = getattr(protocol, "transport", None)
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.abort()


__all__ = ["LiveSocketHandler", "SocketCounter", "TooManySockets", "abort_transport"]
