"""The customer's own pages, reached from links in messages without logging in: the preference
page, one-click unsubscribe and email confirmation (docs/preferences.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tidings.api.exports import export_route
from tidings.api.pages.security import Csrf
from tidings.api.pages.views import CustomerPages
from tidings.core.services.preference_center import PreferenceCenter

if TYPE_CHECKING:
    from tidings.api.runtime import Runtime

STYLESHEET = Path(__file__).resolve().parent / "static" / "pages.css"


def stylesheet_route() -> Route:
    """The pages' one stylesheet, from the package (never a CDN), read once."""
    css = STYLESHEET.read_text(encoding="utf-8")

    async def stylesheet(request: Request) -> Response:
        return Response(
            css,
            media_type="text/css",
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    return Route("/static/pages.css", stylesheet, methods=["GET"])


def page_routes(runtime: Runtime) -> list[BaseRoute]:
    """The routes, built over the runtime's services and link signer."""
    services = runtime.services
    pages = CustomerPages(
        runtime.links,
        PreferenceCenter(services.consent, services.customers, services.tiers),
        services.consent,
        Csrf(runtime.settings.secret_key.reveal(), runtime.links.public_url),
    )
    return [
        Route("/preferences/{token}", pages.preferences, methods=["GET", "POST"]),
        Route("/unsubscribe/{token}", pages.unsubscribe, methods=["GET", "POST"]),
        Route("/confirm/{token}", pages.confirm, methods=["GET", "POST"]),
        export_route(services.exports, pages.invalid),
        stylesheet_route(),
    ]
