"""The websocket side of `/graphql`: `graphql-transport-ws` with our rules on top.

- The caller is authenticated once, from `connection_init`, and checked again before every
  operation and (in `schema.live.stream`) every event; a failed check closes with 4403.
- A customer holds at most so many sockets (4429 beyond that): across API processes with
  Redis (`tidings.core.live.socket_cap`), on this process without.
- A live event's frame is serialised once for all the subscribers that get the same bytes.
"""

from __future__ import annotations

from typing import Any

from starlette.websockets import WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.types.execution import ExecutionResult, PreExecutionError

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


# Kept under their old names: sockets per customer now live in `core.live.socket_cap`.
SocketCounter = LocalSocketCap


class LiveSocketHandler(BaseGraphQLTransportWSHandler[Context, Any]):
    context: Context

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except TooManySockets:
            await self.websocket.close(code=TOO_MANY_CLOSE, reason="Too many connections")

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
            fresh = await live.callers.recheck(viewer)
            if fresh is None:
                self.operations.pop(operation.id, None)
                await self.websocket.close(code=FORBIDDEN_CLOSE, reason="Forbidden")
                return
            await fresh.access()
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

        async def send(payload: str) -> None:
            counts = live.frames if live is not None else None
            await self._send_text(operation, next_frame(operation.id, payload, counts))

        current_operation.set(OperationSlot(key, send))
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

    async def _send_text(self, operation: Operation[Context, Any], text: str) -> None:
        if operation.completed:
            return
        try:
            await self.websocket.ws.send_text(text)  # type: ignore[attr-defined]
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


__all__ = ["LiveSocketHandler", "SocketCounter", "TooManySockets"]
