"""uvicorn's websocket protocol (the `websockets` sans-I/O one it picks by default), lighter
per connection: a server holds tens of thousands of these for days.

Behaviour is uvicorn's own; only what each connection keeps differs:
- the ASGI receive queue is a `Mailbox` and the "transport writable" event a `Flag`
  (`tidings.core.live.mailbox`): no idle deques (about 3.8 KB per socket with asyncio's);
- the parsed handshake request and the 101 response (their headers, about 5 KB) are let go
  once the response is on the wire: uvicorn reads them only to answer the handshake. The
  request's headers are emptied in place, since `websockets`' parser generator keeps the
  request for the connection's life. The ASGI scope keeps its own copy of the request
  headers, as the application sees them.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from tidings.core.live.mailbox import Flag, Mailbox


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Mailbox()  # type: ignore[assignment]
        self.writable = Flag(True)  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete and getattr(self, "response", None) is not None:
            # Sent (or refused): neither is read again.
            self.request.headers.clear()
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]


__all__ = ["LeanWebSocketProtocol"]
