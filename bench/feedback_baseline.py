"""The feedback baseline: a bare Starlette endpoint that verifies and parses the same signed
SMS receipts Tidings takes, and records nothing: what the HTTP stack, HMAC and JSON cost.

`python -m bench.feedback_baseline PORT` with BENCH_SMS_SECRET set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def create_app(secret: bytes) -> Starlette:
    async def endpoint(request: Request) -> Response:
        body = await request.body()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        given = request.headers.get("x-tidings-signature", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return Response(status_code=401)
        receipt = json.loads(body)
        if not isinstance(receipt, dict) or receipt.get("status") != "delivered":
            return Response(status_code=400)
        return JSONResponse({"recorded": 1, "duplicates": 0, "unmatched": 0})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/feedback/http-sms", endpoint, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    port = int(sys.argv[1])
    app = create_app(os.environ["BENCH_SMS_SECRET"].encode())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
