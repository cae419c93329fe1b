"""What a running process holds, built once from the settings: providers, services, the
delivery worker, the live bus and socket cap, the signers, metrics. `serve` builds it in the
app factory; `tidings worker` and the other commands build it alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pluggy

from tidings.api.callbacks import worker_on_change
from tidings.api.metrics import Metrics, MetricsPort, build_metrics
from tidings.api.settings import Settings
from tidings.core.address_hash import AddressHasher
from tidings.core.audit.prune import AuditPruner
from tidings.core.delivery.registry import ProviderRegistry
from tidings.core.delivery.retry import RetryPolicy
from tidings.core.delivery.sandbox import TemplateSandbox
from tidings.core.delivery.template_limits import TemplateLimits
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
from tidings.plugins.manager import channel_map, load_providers, plugin_manager, receipt_channels
from tidings.providers import BUILTIN_PROVIDER_MODULES


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
                concurrency=settings.worker_concurrency,
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
