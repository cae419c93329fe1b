"""uvicorn's websocket protocol (the `websockets` sans-I/O one it picks by default), lighter
per connection: a server holds tens of thousands of these for days.

Behaviour is uvicorn's own, plus `send_text_now` (a frame written without awaiting, for the
live bus's one task to write a batch's frames); otherwise only what each connection keeps
differs:
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
from websockets.exceptions import InvalidState

from tidings.core.live.mailbox import Flag, Mailbox


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Mailbox()  # type: ignore[assignment]
        self.writable = Flag(True)  # type: ignore[assignment]

    def send_text_now(self, text: str) -> bool:
        """Write a text frame now, without awaiting, when it can go as `send` would send it
        without waiting: the handshake answered, no close sent or received, the transport
        not paused by flow control (a client not reading). False: nothing was written; use
        the ASGI `send`, which waits and times out."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.initial_response is not None
            or not self.writable.is_set()
            or self.transport.is_closing()
        ):
            return False
        try:
            self.conn.send_text(text.encode())
        except InvalidState:
            return False
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete and getattr(self, "response", None) is not None:
            # Sent (or refused): neither is read again.
            self.request.headers.clear()
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]


__all__ = ["LeanWebSocketProtocol"]
