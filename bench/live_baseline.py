"""The live benchmark's baseline: a raw websocket broadcast behind the same uvicorn and Starlette
that serve Tidings, with the same settings `tidings serve` gives uvicorn.

It speaks just enough graphql-transport-ws for the benchmark's clients (connection_init gets
connection_ack, subscribe registers the socket) and checks nothing: no token, no document, no
database. `POST /broadcast` sends one pre-serialised `next` frame, shaped and sized like a
Tidings notification, to every registered socket, one `send_text` after another.

`python -m bench.live_launch bench.live_baseline PORT`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

PROTOCOL = "graphql-transport-ws"


def notification_frame(op_id: str, title: str, body: str) -> str:
    """A `next` frame as Tidings would send for `notifications { id title body createdAt }`."""
    payload = {
        "data": {
            "notifications": {
                "id": str(uuid.uuid4()),
                "title": title,
                "body": body,
                "createdAt": datetime.now(UTC).isoformat(),
            }
        }
    }
    return json.dumps({"id": op_id, "type": "next", "payload": payload}, separators=(",", ":"))


def create_app() -> Starlette:
    subscribers: dict[WebSocket, str] = {}
    tasks: set[asyncio.Task[None]] = set()

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol=PROTOCOL)
        try:
            while True:
                message = json.loads(await websocket.receive_text())
                kind = message.get("type")
                if kind == "connection_init":
                    await websocket.send_text('{"type":"connection_ack"}')
                elif kind == "subscribe":
                    subscribers[websocket] = str(message["id"])
                elif kind == "ping":
                    await websocket.send_text('{"type":"pong"}')
                elif kind == "complete":
                    subscribers.pop(websocket, None)
        except WebSocketDisconnect:
            pass
        finally:
            subscribers.pop(websocket, None)

    async def fan_out(title: str, body: str) -> None:
        frames: dict[str, str] = {}
        for websocket, op_id in list(subscribers.items()):
            frame = frames.get(op_id)
            if frame is None:
                frame = frames[op_id] = notification_frame(op_id, title, body)
            try:
                await websocket.send_text(frame)
            except (WebSocketDisconnect, RuntimeError):
                subscribers.pop(websocket, None)

    async def broadcast(request: Request) -> Response:
        """Start the broadcast and answer at once, as `send` answers before delivering."""
        body = await request.json()
        task = asyncio.create_task(fan_out(body["title"], body["body"]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return JSONResponse({"subscribers": len(subscribers)}, status_code=202)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "subscribers": len(subscribers)})

    return Starlette(
        routes=[
            WebSocketRoute("/graphql", endpoint),
            Route("/broadcast", broadcast, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    port = int(sys.argv[1])
    # As `tidings serve` runs uvicorn (api/cli.py): the same protocol classes, keep-alive and
    # no permessage-deflate (offered by the clients, declined by both servers).
    uvicorn.run(
        create_app(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_ping_interval=20,
        ws_per_message_deflate=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
