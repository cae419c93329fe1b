"""The app factory: everything a running service holds is built here, in the lifespan."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pluggy
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route, WebSocketRoute

from tidings.api.auth import Authenticator
from tidings.api.background import Background
from tidings.api.callbacks import feedback_recorder, worker_on_change
from tidings.api.context import TidingsGraphQL
from tidings.api.dashboard import dashboard_routes
from tidings.api.feedback import feedback_routes
from tidings.api.health import health_routes
from tidings.api.metrics import CountWebsockets, Metrics, MetricsPort, build_metrics
from tidings.api.middleware import BodySizeLimit, RequestContext
from tidings.api.pages import page_routes
from tidings.api.settings import Settings
from tidings.api.shutdown import GoingAway
from tidings.api.tracking import tracking_routes
from tidings.core import db
from tidings.core.address_hash import AddressHasher
from tidings.core.audit.prune import AuditPruner
from tidings.core.delivery.registry import ProviderRegistry
from tidings.core.delivery.retry import RetryPolicy
from tidings.core.delivery.sandbox import TemplateSandbox
from tidings.core.delivery.template_limits import TemplateLimits
from tidings.core.delivery.tier_audit import record_tier_policy
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.delivery.worker import DeliveryWorker, WorkerOptions
from tidings.core.links import LinkSigner
from tidings.core.live import InProcessBus, LiveBus, LivePublisher
from tidings.core.live.runtime import LiveRuntime
from tidings.core.live.socket_cap import LocalSocketCap, SocketCap
from tidings.core.services import Services
from tidings.core.services.retention import DataUpkeep
from tidings.core.services.throttle import SignInThrottle
from tidings.core.tokens import TokenSigner
from tidings.core.tracking import TrackingSigner
from tidings.core.webhooks.dispatcher import DispatcherOptions, WebhookDispatcher
from tidings.plugins.manager import (
    channel_map,
    load_providers,
    plugin_manager,
    receipt_channels,
)
from tidings.providers import BUILTIN_PROVIDER_MODULES
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


@dataclass
class Runtime:
    """What the lifespan builds and the routes use."""

    settings: Settings
    services: Services
    signer: TokenSigner
    channels: dict[str, list[str]]
    registry: ProviderRegistry
    worker: DeliveryWorker
    templates: TemplateSandbox
    bus: LiveBus
    live: LiveRuntime
    # Sockets per customer: across API processes with Redis, per process without.
    sockets: SocketCap
    links: LinkSigner
    # Tracking tokens: always read (old mail's links keep working); made only when
    # TIDINGS_TRACKING is on (the worker is given it then).
    tracking: TrackingSigner
    # Keyed hashes of suppressed addresses: what a bounce stores, what a send looks up.
    hasher: AddressHasher
    # Runs beside the worker (in `serve` with the in-process worker, and in `tidings worker`).
    webhooks: WebhookDispatcher
    # Prometheus metrics, when TIDINGS_METRICS is on (api/metrics).
    metrics: Metrics | None = None

    def metrics_port(self) -> MetricsPort:
        """The metrics' own port (TIDINGS_METRICS_PORT), to start and close around the work."""
        return MetricsPort(self.metrics, self.settings.metrics_host, self.settings.metrics_port)


def default_plugin_manager() -> pluggy.PluginManager:
    """Built-in providers first, then every installed plugin, through the same hook."""
    return plugin_manager(builtins=BUILTIN_PROVIDER_MODULES)


def live_bus(settings: Settings, *, listen: bool = True) -> LiveBus:
    """Redis pub/sub across processes when TIDINGS_REDIS_URL is set, else this process only.
    `listen=False` for processes that publish but serve no subscriber (workers)."""
    if settings.redis_url:
        from tidings.core.live.redis_bus import RedisBus

        return RedisBus(settings.redis_url, listen=listen)
    return InProcessBus()


def socket_cap(settings: Settings) -> SocketCap:
    """The websocket cap per customer: counted in Redis when TIDINGS_REDIS_URL is set."""
    if settings.redis_url:
        from tidings.core.live.redis_socket_cap import RedisSocketCap

        return RedisSocketCap(
            settings.redis_url, settings.ws_max_sockets_per_customer, settings.ws_socket_ttl
        )
    return LocalSocketCap(settings.ws_max_sockets_per_customer)


def audit_pruner(settings: Settings) -> AuditPruner | None:
    """The worker's audit retention, when TIDINGS_AUDIT_RETENTION_DAYS is set."""
    if settings.audit_retention_days is None:
        return None
    return AuditPruner(settings.secret_key.reveal(), timedelta(days=settings.audit_retention_days))


def build_runtime(
    settings: Settings, manager: pluggy.PluginManager | None = None, *, listen: bool = True
) -> Runtime:
    manager = manager or default_plugin_manager()
    providers = load_providers(manager, settings.plugin_config)
    channels = channel_map(providers)
    tiers = TierPolicies.from_setting(settings.tier_policy)
    registry = ProviderRegistry(providers)
    bus = live_bus(settings, listen=listen)
    live = LivePublisher(bus)
    # Saves and sends share this process's template processes.
    templates = TemplateSandbox(TemplateLimits(render_timeout=settings.template_render_timeout))
    links = LinkSigner(
        settings.secret_key.reveal(), settings.public_url, settings.preference_link_ttl
    )
    tracking = TrackingSigner(settings.secret_key.reveal(), settings.public_url)
    hasher = AddressHasher(settings.secret_key.reveal(), channels)
    services = Services.build(
        frozenset(channels),
        tiers,
        live,
        served=frozenset(name for name, names in channels.items() if names),
        templates=templates,
        links=links,
        email_confirmation=settings.email_confirmation,
        tracking=settings.tracking,
        hasher=hasher,
        attribution_window=timedelta(seconds=settings.attribution_window),
        webhook_allow_private=settings.webhook_allow_private,
        receipt_channels=receipt_channels(providers),
        stats_min_group=settings.stats_min_group,
        erasure_grace=timedelta(days=settings.erasure_grace_days),
        throttle=SignInThrottle(
            settings.secret_key.reveal(),
            free=settings.login_free_attempts,
            max_delay=settings.login_max_backoff,
        ),
    )
    upkeep = DataUpkeep(services.erasure, settings.retention_days)
    metrics = build_metrics(settings, bus, registry, listen=listen)
    return Runtime(
        settings=settings,
        services=services,
        signer=TokenSigner(
            settings.secret_key.reveal(), settings.staff_token_ttl, settings.customer_token_ttl
        ),
        channels=channels,
        registry=registry,
        worker=DeliveryWorker(
            registry,
            tiers,
            WorkerOptions(
                batch_size=settings.worker_batch_size,
                lease=timedelta(seconds=settings.worker_lease_seconds),
                retry=RetryPolicy(
                    retry_for=timedelta(seconds=settings.delivery_retry_for),
                    max_attempts=settings.delivery_max_attempts,
                ),
            ),
            on_change=worker_on_change(live),
            templates=templates,
            links=links,
            unsubscribe_mailto=settings.unsubscribe_mailto,
            tracking=tracking if settings.tracking else None,
            hasher=hasher,
            audit_pruner=audit_pruner(settings),
            chores=upkeep.run_once,
        ),
        templates=templates,
        bus=bus,
        live=LiveRuntime(bus, send_timeout=settings.live_send_timeout),
        sockets=socket_cap(settings),
        links=links,
        tracking=tracking,
        hasher=hasher,
        webhooks=WebhookDispatcher(DispatcherOptions(allow_private=settings.webhook_allow_private)),
        metrics=metrics,
    )


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
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.schema = schema
    app.state.going_away = going_away
    return app
