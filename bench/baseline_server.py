"""The baseline over HTTP: the same graphql-core schema behind a bare Starlette route, served
by uvicorn as Tidings is, so the HTTP stack's own cost can be told apart.

`python -m bench.baseline_server PORT` with BENCH_DATABASE_URL set.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator

import uvicorn
from graphql import graphql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.baseline import PageLoads, build_schema, create_pool


def create_app(url: str) -> Starlette:
    schema = build_schema()
    state: dict = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["pool"] = await create_pool(url)
        try:
            yield
        finally:
            await state["pool"].close()

    async def endpoint(request: Request) -> Response:
        body = await request.json()
        result = await graphql(
            schema,
            body["query"],
            variable_values=body.get("variables"),
            context_value=PageLoads(state["pool"]),
        )
        payload: dict = {"data": result.data}
        if result.errors:
            payload["errors"] = [error.formatted for error in result.errors]
        return Response(json.dumps(payload, separators=(",", ":")), media_type="application/json")

    async def healthz(request: Request) -> Response:
        await state["pool"].fetchval("SELECT 1")
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/graphql", endpoint, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    port = int(sys.argv[1])
    app = create_app(os.environ["BENCH_DATABASE_URL"])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
