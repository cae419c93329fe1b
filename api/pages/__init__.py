"""The customer's own pages, reached from links in messages without logging in: the preference
page, one-click unsubscribe and email confirmation (docs/preferences.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from tidings.api.pages.security import Csrf
from tidings.api.pages.views import CustomerPages
from tidings.core.services.preference_center import PreferenceCenter

if TYPE_CHECKING:
    from tidings.api.app import Runtime

STATIC = Path(__file__).resolve().parent / "static"


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
        Mount("/static", StaticFiles(directory=STATIC), name="pages-static"),
    ]
