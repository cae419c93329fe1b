"""The app factory: everything a running service holds is built here, in the lifespan."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pluggy
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp

from tidings.api.auth import Authenticator
from tidings.api.background import Background
from tidings.api.callbacks import feedback_recorder
from tidings.api.context import TidingsGraphQL
from tidings.api.dashboard import dashboard_routes
from tidings.api.feedback import feedback_routes
from tidings.api.health import health_routes
from tidings.api.metrics import CountWebsockets
from tidings.api.middleware import BodySizeLimit, RequestContext
from tidings.api.pages import page_routes
from tidings.api.runtime import build_runtime
from tidings.api.settings import Settings
from tidings.api.shutdown import GoingAway
from tidings.api.socket_shortcut import TidingsApp
from tidings.api.tracking import tracking_routes
from tidings.core import db
from tidings.core.delivery.tier_audit import record_tier_policy
from tidings.schema import SchemaOptions, build_schema

logger = logging.getLogger("tidings")
# They log every query with its parameters (emails, phones, device tokens) at DEBUG.
SQL_LOGGERS = ("tortoise.db_client", "aiosqlite")


def quiet_sql_logs(settings: Settings) -> None:
    """Keep query parameters (personal data) out of the logs unless TIDINGS_LOG_SQL asks; when
    it does, every query is logged at DEBUG whatever the rest of the logging level."""
    level = logging.DEBUG if settings.log_sql else logging.INFO
    for name in SQL_LOGGERS:
        logging.getLogger(name).setLevel(level)


class RedactLinkTokens(logging.Filter):
    """uvicorn's access log names each request's path, and a customer link's path holds its
    token, which opens the customer's page: logged as `/preferences/<token>` instead. A
    tracking token (`/t/o/`, `/t/c/`) names a delivery and carries the link's URL, and an
    export link (`/exports/`) downloads everything held about a customer: redacted the same
    way."""

    PATH = re.compile(r"/(preferences|unsubscribe|confirm|exports|t/o|t/c)/[^/?#\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.PATH.sub(r"/\1/<token>", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = self.PATH.sub(r"/\1/<token>", record.msg)
        return True


ACCESS_LOGGER = "uvicorn.access"


def redact_access_log() -> None:
    """Install the filter once on uvicorn's access logger (logging config keeps it)."""
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactLinkTokens) for f in access.filters):
        access.addFilter(RedactLinkTokens())


async def prepare_database(settings: Settings) -> None:
    """SQLite migrates itself at start; PostgreSQL refuses to start while behind."""
    await db.init_db(settings.database_url, create_db=settings.is_sqlite, keyring=settings.keyring)
    if settings.is_sqlite:
        applied = await db.migrate(settings.database_url)
        if applied:
            logger.info("applied %d migration(s)", len(applied))
    else:
        await db.ensure_schema_current(settings.database_url)


LIVE_PAGE = Path(__file__).resolve().parent / "static" / "live.html"


async def live_page(request: Request) -> HTMLResponse:
    """Development only: a customer's live inbox in a page, to try notifications by hand."""
    return HTMLResponse(LIVE_PAGE.read_text(encoding="utf-8"))


def create_app(
    settings: Settings,
    *,
    manager: pluggy.PluginManager | None = None,
    manage_database: bool = True,
) -> Starlette:
    """The ASGI app. `manage_database=False` when the caller has opened the ORM itself."""
    runtime = build_runtime(settings, manager)
    going_away = GoingAway()  # the websockets to close with 1001 on shutdown
    quiet_sql_logs(settings)
    redact_access_log()
    limits = settings.limits
    schema = build_schema(
        SchemaOptions(
            introspection=settings.is_development,
            max_depth=limits.max_depth,
            max_aliases=limits.max_aliases,
            max_tokens=limits.max_tokens,
            max_page_size=limits.max_page_size,
            max_query_cost=limits.max_query_cost,
        )
    )
    graphql = TidingsGraphQL(
        schema,
        services=runtime.services,
        signer=runtime.signer,
        authenticator=Authenticator(runtime.signer, runtime.services.api_keys),
        channels=runtime.channels,
        max_page_size=limits.max_page_size,
        graphiql=settings.is_development,
        allowed_origins=settings.allowed_origins,
        live=runtime.live,
        max_subscriptions=settings.ws_max_subscriptions,
        max_sockets_per_customer=settings.ws_max_sockets_per_customer,
        sockets=runtime.sockets,
        wake_worker=runtime.worker.wakeup.set if settings.in_process_worker else None,
        going_away=going_away,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_database:
            await prepare_database(settings)
        await record_tier_policy(runtime.services.tiers)
        await runtime.bus.start()
        metrics_port = await runtime.metrics_port().start()
        await runtime.sockets.start()
        background = Background(runtime)
        if settings.in_process_worker:
            background.start()
            # It stops claiming as the server begins to shut down (api/shutdown.py).
            going_away.on_begin(lambda: background.begin_shutdown(settings.shutdown_seconds))
        try:
            yield
        finally:
            await background.shutdown(settings.shutdown_seconds)
            await metrics_port.aclose()
            await runtime.registry.aclose()
            await runtime.bus.aclose()
            await runtime.sockets.aclose()
            runtime.templates.close()
            if manage_database:
                await db.close_db()

    # The request's audit context first, so even a refused body's answer carries its id.
    middleware = [
        Middleware(RequestContext),
        Middleware(BodySizeLimit, max_bytes=limits.max_body_bytes),
    ]
    if runtime.metrics is not None:
        middleware.insert(0, Middleware(CountWebsockets, instruments=runtime.metrics.instruments))
    if settings.allowed_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.allowed_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=["x-request-id"],
                max_age=600,
            )
        )
    routes = [
        *health_routes(settings.database_url, settings.redis_url),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        *page_routes(runtime),
        *dashboard_routes(runtime),
        *tracking_routes(runtime.tracking, runtime.services.engagement),
        *feedback_routes(
            runtime.registry,
            feedback_recorder(
                runtime.services,
                settings.secret_key.reveal(),
                runtime.hasher,
                runtime.metrics.instruments if runtime.metrics else None,
            ),
        ),
    ]
    if runtime.metrics is not None and settings.metrics_port is None:
        routes.append(runtime.metrics.route())
    if settings.is_development:
        routes.append(Route("/live", live_page, methods=["GET"]))
    socket_app: ASGIApp = RequestContext(graphql)
    if runtime.metrics is not None:
        socket_app = CountWebsockets(socket_app, instruments=runtime.metrics.instruments)
    app = TidingsApp(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        websocket_path="/graphql",
        websocket_app=socket_app,
    )
    app.state.runtime = runtime
    app.state.schema = schema
    app.state.going_away = going_away
    return app
