"""The GraphQL websocket's way in, past Starlette's middleware stack and router.

A websocket lives for days, and every ASGI layer it passes through keeps a suspended
coroutine for that long: Starlette's error and exception middleware, our body-size limit and
CORS (both of which pass websockets straight on), the router and its route, about 4 KB per
socket in all. `/graphql` websockets go straight to the layers that do something for them:
the websocket count (metrics), the request's audit context, and the GraphQL view. Whatever
those raise reaches uvicorn as before: Starlette's middleware only re-raised it for a
websocket (its handlers answer Starlette's own HTTP and websocket exceptions, which this path
does not raise). Any other websocket takes the ordinary road.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send


class TidingsApp(Starlette):
    """Starlette, with `websocket_app` serving websockets to `websocket_path` directly."""

    def __init__(self, *args: Any, websocket_path: str, websocket_app: ASGIApp, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.websocket_path = websocket_path
        self.websocket_app = websocket_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and route_path(scope) == self.websocket_path:
            scope["app"] = self
            await self.websocket_app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def route_path(scope: Scope) -> str:
    """The path as Starlette's router matches it: without the root path it is mounted at."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


__all__ = ["TidingsApp", "route_path"]
