"""Local stand-ins for FCM and an SMS API, for B6, in a process of their own so the client side
does not share an interpreter with them: `python -m bench.http_fakes PORT`.

`POST /token` answers Google's OAuth token exchange (the JWT is not checked: the tests' fake
does that; here only the traffic matters), `POST /v1/projects/<p>/messages:send` accepts a
push, `POST /sms` accepts an SMS, `GET /count` says how many of each arrived, `GET /healthz`
is for bench/servers.py."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

counts = {"fcm": 0, "sms": 0}


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    while True:  # read the whole request before answering, as a real API does
        message = await receive()
        if not message.get("more_body"):
            break
    path, method = scope["path"], scope["method"]
    if method == "GET" and path == "/healthz":
        await _answer(send, 200, {"status": "ok"})
    elif method == "GET" and path == "/count":
        await _answer(send, 200, counts)
    elif method == "POST" and path == "/token":
        await _answer(
            send, 200, {"access_token": "bench-token", "expires_in": 3600, "token_type": "Bearer"}
        )
    elif method == "POST" and path.endswith("/messages:send"):
        counts["fcm"] += 1
        project = path.split("/")[3]
        await _answer(send, 200, {"name": f"projects/{project}/messages/{counts['fcm']}"})
    elif method == "POST" and path == "/sms":
        counts["sms"] += 1
        await _answer(send, 200, {"id": f"sms-{counts['sms']}"})
    else:
        await _answer(send, 404, {"error": "not found"})


def main() -> None:
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
