"""Who is asking, in which request, from where: kept per task so services need not pass it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestInfo:
    """The request an audit entry belongs to. `actor`: "staff:<id>", "api_key:<id>",
    "customer:<id>", or None until the caller is authenticated."""

    request_id: str
    ip: str | None = None
    actor: str | None = None

    def with_actor(self, actor: str | None) -> RequestInfo:
        return RequestInfo(self.request_id, self.ip, actor)


_current: ContextVar[RequestInfo | None] = ContextVar("tidings_audit_request", default=None)


def current_request() -> RequestInfo | None:
    return _current.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def request_scope(info: RequestInfo) -> Iterator[RequestInfo]:
    """Make `info` the current request for the code (and the tasks it starts) inside."""
    token = enter_request(info)
    try:
        yield info
    finally:
        leave_request(token)


def enter_request(info: RequestInfo) -> Token[RequestInfo | None]:
    """`request_scope` without a generator, for a scope held as long as a websocket:
    pass the token to `leave_request` in a `finally`."""
    return _current.set(info)


def leave_request(token: Token[RequestInfo | None]) -> None:
    _current.reset(token)


def bind_actor(actor: str | None) -> None:
    """Name the caller of the current request once it is authenticated: entries recorded from
    here on in this task (and the tasks it starts) carry it. Outside a request, nothing."""
    info = _current.get()
    if info is not None and info.actor != actor:
        _current.set(info.with_actor(actor))
