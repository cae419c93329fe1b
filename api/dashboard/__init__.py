"""The staff dashboard at `/dashboard` (docs/dashboard.md): sign-in, the delivery and consent
stats as charts and tables, CSV downloads and a live table of the latest messages. Charts are
drawn by Apache ECharts, vendored in `static/` with its licence: nothing comes from a CDN."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tidings.api.dashboard.session import DashboardSessions
from tidings.api.dashboard.tables import DashboardData
from tidings.api.dashboard.views import Dashboard

if TYPE_CHECKING:
    from tidings.api.runtime import Runtime

STATIC = Path(__file__).resolve().parent / "static"
# name → media type: only these files are served.
STATIC_FILES = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    "echarts.min.js": "text/javascript",
    "echarts-LICENSE.txt": "text/plain",
    "echarts-NOTICE.txt": "text/plain",
    "echarts-LICENSE-d3.txt": "text/plain",
}


def static_route() -> Route:
    """The dashboard's script, stylesheet and ECharts (with its licence), read once."""
    files = {name: (STATIC / name).read_bytes() for name in STATIC_FILES}

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in files:
            return Response("Not Found", status_code=404, media_type="text/plain")
        return Response(
            files[name],
            media_type=STATIC_FILES[name],
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    return Route("/dashboard/static/{name}", static, methods=["GET"])


def dashboard_routes(runtime: Runtime) -> list[BaseRoute]:
    settings = runtime.settings
    dashboard = Dashboard(
        DashboardSessions(
            settings.secret_key.reveal(),
            settings.public_url,
            ttl=settings.staff_token_ttl,
            secure=not settings.is_development,
        ),
        runtime.services.staff,
        DashboardData(runtime.services.stats),
        sorted(runtime.channels),
    )
    return [
        Route("/dashboard", dashboard.page, methods=["GET"]),
        Route("/dashboard/sign-in", dashboard.sign_in, methods=["POST"]),
        Route("/dashboard/sign-out", dashboard.sign_out, methods=["POST"]),
        Route("/dashboard/live.json", dashboard.live, methods=["GET"]),
        static_route(),
        Route("/dashboard/{table}.csv", dashboard.table_csv, methods=["GET"]),
    ]
