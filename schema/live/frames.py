"""A live event's GraphQL frame, serialised once for every subscriber that would get the
same bytes: the same document and variables, and the same view of the data (see
`visibility`). The frames hang off the event, so they go when the event does."""

from __future__ import annotations

import json
from collections.abc import Hashable
from contextvars import ContextVar
from typing import Any, Protocol

from strawberry.types.execution import ExecutionResult

from tidings.core.enums import Role
from tidings.core.live.runtime import FrameCounts
from tidings.core.viewer import Viewer


def visibility(viewer: Viewer) -> Hashable:
    """Callers for whom every field of a live type resolves alike. ADMIN, MARKETER and
    AUDITOR see by role alone; an agent sees by its own grants, a customer only itself."""
    if viewer.is_customer or viewer.has_role(Role.AGENT) or viewer.role is None:
        return (viewer.kind.value, viewer.id)
    return ("role", viewer.role.value)


def operation_key(query: str, variables: dict[str, Any] | None, name: str | None) -> Hashable:
    return (query, json.dumps(variables or {}, sort_keys=True, default=str), name)


class FrameSocket(Protocol):
    """The socket handler, as an operation's slot sends through it."""

    async def send_payload(self, operation: Any, payload: str) -> None: ...

    def can_send_now(self) -> bool: ...

    def send_payload_now(self, operation: Any, payload: str) -> bool: ...


class OperationSlot:
    """The websocket operation running in this task: what makes its frames alike, and how to
    send it a payload serialised for another subscriber: `send` waits (up to the send
    timeout); `send_now` writes at once when the socket can take it, else answers False.
    Slotted and closure-free: one per subscription, held for the socket's life."""

    __slots__ = ("_operation", "_socket", "key")

    def __init__(self, key: Hashable, socket: FrameSocket, operation: Any) -> None:
        self.key = key
        self._socket = socket
        self._operation = operation

    async def send(self, payload: str) -> None:
        await self._socket.send_payload(self._operation, payload)

    def can_send_now(self) -> bool:
        return self._socket.can_send_now()

    def send_now(self, payload: str) -> bool:
        return self._socket.send_payload_now(self._operation, payload)


# Set by the socket handler at the start of each operation's task.
current_operation: ContextVar[OperationSlot | None] = ContextVar("tidings_operation", default=None)


def encode_payload(result: ExecutionResult, counts: FrameCounts | None) -> str:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    if counts is not None:
        counts.serialised += 1
    return json.dumps(payload, separators=(",", ":"))


def next_frame(operation_id: str, payload: str, counts: FrameCounts | None) -> str:
    if counts is not None:
        counts.sent += 1
    return f'{{"id":{json.dumps(operation_id)},"type":"next","payload":{payload}}}'
