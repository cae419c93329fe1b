"""ASGI middleware: the request's audit context, and request body size."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.core.audit.context import (
    RequestInfo,
    enter_request,
    leave_request,
    new_request_id,
    request_scope,
)

REQUEST_ID_HEADER = b"x-request-id"
# What a caller's (or a proxy's) own request id may look like to be kept: short and plain,
# so it can neither forge log lines nor bloat the audit log.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_of(scope: Scope) -> str:
    """A well-formed incoming X-Request-ID, or a new one."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            try:
                candidate = value.decode("ascii")
            except UnicodeDecodeError:
                break
            if REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return new_request_id()


class RequestContext:
    """Run every HTTP request and websocket inside `request_scope`: its id (echoed in the
    response's X-Request-ID), the direct peer's address, and (once authenticated, set by the
    GraphQL view, the pages and the dashboard) its actor. Audit entries take all three."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        client = scope.get("client")
        info = RequestInfo(request_id, client[0] if client else None)
        if scope["type"] == "websocket":
            # No response headers to add, and nothing more than the scope's token kept for the
            # socket's whole life (no wrapper, no context manager generator).
            token = enter_request(info)
            try:
                await self.app(scope, receive, send)
            finally:
                leave_request(token)
            return
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() != REQUEST_ID_HEADER
                ]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        with request_scope(info):
            await self.app(scope, receive, send_with_id)


class BodyTooLargeError(Exception):
    pass


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413, whether or not Content-Length says so."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await _too_large(send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLargeError:
            if not started:
                await _too_large(send)


async def _too_large(send: Send) -> None:
    body = b'{"errors":[{"message":"Request body too large.","extensions":{"code":"QUERY_LIMIT"}}]}'
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
