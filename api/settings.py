"""Settings: read once, from the environment and a `.env` file, into one typed object."""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from tidings.api.data_keys import DataKeysError, load_keyring
from tidings.api.setting_values import (
    SettingsError,
    read_bool,
    read_database_url,
    read_days,
    read_duration,
    read_int,
    read_optional_int,
    read_public_url,
    read_seconds,
)
from tidings.core.crypto import Keyring
from tidings.core.enums import EmailConfirmation
from tidings.core.links import DEFAULT_PUBLIC_URL
from tidings.plugins.secret import Secret
from tidings.providers.smtp_bounces import BounceAddress, parse_bounce_address

ENVIRONMENTS = ("development", "production")
LOG_FORMATS = ("text", "json")
SMTP_SECURITY = ("none", "starttls", "tls")


@dataclass(frozen=True)
class Limits:
    """Request limits, checked before any resolver runs."""

    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 5000
    max_page_size: int = 100
    max_body_bytes: int = 1024 * 1024
    max_query_cost: int = 50_000


@dataclass(frozen=True)
class Settings:
    """Every setting the service itself reads; durations are in seconds. Provider plugins
    (the built-in ones too) read their own settings from `plugin_config`."""

    env: str = "development"
    # URLs may hold passwords: kept out of the repr.
    database_url: str = field(default="sqlite://tidings.sqlite3", repr=False)
    redis_url: str | None = field(default=None, repr=False)
    secret_key: Secret = field(default_factory=lambda: Secret(""))
    # Data keys and the blind-index key (TIDINGS_DATA_KEYS, TIDINGS_BLIND_INDEX_KEY, or the
    # development key file `tidings.keys`); None only for a Settings built by hand.
    keyring: Keyring | None = field(default=None, repr=False, compare=False)
    allowed_origins: tuple[str, ...] = ("*",)
    staff_token_ttl: int = 12 * 3600
    customer_token_ttl: int = 30 * 24 * 3600
    in_process_worker: bool = True
    # Query parameters in the driver logs (DEBUG) are personal data: off unless asked for.
    log_sql: bool = False
    # "text" (a line for people) or "json" (one object per line, for a log pipeline).
    log_format: str = "text"
    # On SIGTERM: how long in-flight requests and deliveries may take to finish (seconds)
    # before what is left is cut short and its deliveries released to other workers.
    shutdown_seconds: float = 30.0
    # A file the worker touches after every round, for a liveness check (`tidings
    # worker-health`); None: no heartbeat.
    worker_heartbeat_file: str | None = None
    tier_policy: str | None = None
    worker_batch_size: int = 100
    worker_lease_seconds: int = 120
    # Delivery loops one worker process runs at once; `load` defaults it by database.
    worker_concurrency: int = 1
    # The retry budget of a delivery failing transiently, from its creation (seconds); an
    # attempt cap as well only when TIDINGS_DELIVERY_MAX_ATTEMPTS is set.
    delivery_retry_for: int = 24 * 3600
    delivery_max_attempts: int | None = None
    # Processor time one template render may take (seconds, fractions allowed).
    template_render_timeout: float = 0.2
    # Live notifications: operations at once on one websocket, and sockets per customer
    # (across API processes with Redis, per process without).
    ws_max_subscriptions: int = 10
    ws_max_sockets_per_customer: int = 10
    # Live notifications: how long one frame may wait on a socket whose client is not reading
    # (seconds) before the socket is closed with 1013 and the app catches up from its inbox.
    live_send_timeout: float = 5.0
    # With Redis: how long a socket still counts towards the cap after its process stopped
    # refreshing it (a killed process), in seconds.
    ws_socket_ttl: int = 30
    # The address customers reach: links in messages (preference page, unsubscribe,
    # confirmation) start with it. No trailing slash.
    public_url: str = DEFAULT_PUBLIC_URL
    # How long a preference link (and a confirmation link) stays valid (seconds).
    preference_link_ttl: int = 7 * 24 * 3600
    # An address for `List-Unsubscribe: <mailto:...>` beside the one-click URL; none if unset.
    unsubscribe_mailto: str | None = None
    # The base of email's VERP envelope senders, and what `inbound-smtp` takes mail for.
    bounce_address: BounceAddress | None = None
    # "category" (a category's confirmEmail decides) or "required" (every email grant).
    email_confirmation: EmailConfirmation = EmailConfirmation.CATEGORY
    # Engagement tracking (open pixel, tracked links) where a category asks; off: nowhere.
    tracking: bool = True
    # Conversions are attributed to a delivery clicked (else opened) this long before (seconds).
    attribution_window: int = 7 * 24 * 3600
    # Whether webhook endpoints may be private or loopback addresses (SSRF guard off).
    # Default: true in development, false in production.
    webhook_allow_private: bool = True
    # Stats groups smaller than this are folded into one "other" row (1: none are).
    stats_min_group: int = 1
    # Sign-in throttling: failures free per account or address, then 1 s, 2 s, 4 s ... capped.
    login_free_attempts: int = 5
    login_max_backoff: int = 15 * 60
    # Audit entries older than this many days are pruned behind a signed checkpoint (the
    # worker, hourly; `tidings audit prune`); None: kept forever.
    audit_retention_days: int | None = None
    # A customer's own erasure request (requestErasure) is carried out after this many days.
    erasure_grace_days: int = 0
    # Deliveries, their events and notifications older than this many days are pruned (None:
    # kept for ever).
    retention_days: int | None = None
    # Prometheus metrics (docs/metrics.md): off unless TIDINGS_METRICS=on; with a port, served
    # there (on metrics_host) rather than at the API's /metrics; with a token, only to it.
    metrics: bool = False
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    metrics_token: Secret | None = None
    limits: Limits = field(default_factory=Limits)
    # Every TIDINGS_* setting, raw, for provider plugins (their own settings live here too).
    # Raw means secrets in clear: kept out of the repr.
    plugin_config: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite://")

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: str | os.PathLike[str] | None = ".env",
        workdir: Path | None = None,
    ) -> Settings:
        """Read settings from `environ` (default: the process environment) over a `.env` file."""
        raw: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            raw.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        raw.update(os.environ if environ is None else environ)
        config = {k: v for k, v in raw.items() if k.startswith("TIDINGS_")}
        workdir = workdir or Path.cwd()

        env = config.get("TIDINGS_ENV", "development").strip().lower()
        if env not in ENVIRONMENTS:
            raise SettingsError(f"TIDINGS_ENV must be one of {', '.join(ENVIRONMENTS)}")

        key = config.get("TIDINGS_SECRET_KEY", "")
        if not key:
            if env == "production":
                raise SettingsError("TIDINGS_SECRET_KEY is required when TIDINGS_ENV=production")
            key = _development_key(workdir / "tidings.secret")
        elif len(key) < 32:
            raise SettingsError("TIDINGS_SECRET_KEY must be at least 32 characters")

        origins_default = "*" if env == "development" else ""
        origins = tuple(
            o.strip()
            for o in config.get("TIDINGS_ALLOWED_ORIGINS", origins_default).split(",")
            if o.strip()
        )
        # The email provider reads its own settings; this one is checked here too, so a
        # typo stops the process at start with a one-line message.
        security = config.get("TIDINGS_SMTP_SECURITY", "starttls").strip().lower()
        if security not in SMTP_SECURITY:
            raise SettingsError(f"TIDINGS_SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY)}")
        defaults = Limits()
        limits = Limits(
            max_depth=read_int(config, "TIDINGS_MAX_QUERY_DEPTH", defaults.max_depth),
            max_aliases=read_int(config, "TIDINGS_MAX_QUERY_ALIASES", defaults.max_aliases),
            max_tokens=read_int(config, "TIDINGS_MAX_QUERY_TOKENS", defaults.max_tokens),
            max_page_size=read_int(config, "TIDINGS_MAX_PAGE_SIZE", defaults.max_page_size),
            max_body_bytes=read_int(config, "TIDINGS_MAX_BODY_BYTES", defaults.max_body_bytes),
            max_query_cost=read_int(config, "TIDINGS_MAX_QUERY_COST", defaults.max_query_cost),
        )
        tier_policy = config.get("TIDINGS_TIER_POLICY") or None
        if tier_policy:
            from tidings.core.policy import TierPolicyError, parse_tier_policies

            try:
                parse_tier_policies(tier_policy)
            except TierPolicyError as error:
                raise SettingsError(f"TIDINGS_TIER_POLICY: {error}") from None
        public_url = read_public_url(config, env)
        mailto = (config.get("TIDINGS_UNSUBSCRIBE_MAILTO") or "").strip() or None
        if mailto is not None:
            mailto = mailto.removeprefix("mailto:")
            if not _MAILTO.match(mailto):
                raise SettingsError(
                    "TIDINGS_UNSUBSCRIBE_MAILTO must be an email address, "
                    "e.g. unsubscribe@shop.example"
                )
        try:
            bounce_address = parse_bounce_address(config.get("TIDINGS_BOUNCE_ADDRESS"))
        except ValueError as error:
            raise SettingsError(str(error)) from None
        confirmation = (config.get("TIDINGS_EMAIL_CONFIRMATION") or "category").strip().lower()
        if confirmation not in {c.value for c in EmailConfirmation}:
            raise SettingsError("TIDINGS_EMAIL_CONFIRMATION must be one of category, required")
        log_format = (config.get("TIDINGS_LOG_FORMAT") or "text").strip().lower()
        if log_format not in LOG_FORMATS:
            raise SettingsError(f"TIDINGS_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
        shutdown_seconds = read_seconds(config, "TIDINGS_SHUTDOWN_SECONDS", 30.0)
        database_url = read_database_url(config)
        metrics = read_bool(config, "TIDINGS_METRICS", False)
        metrics_port = read_optional_int(config, "TIDINGS_METRICS_PORT")
        if metrics_port is not None and (metrics_port > 65535 or not metrics):
            raise SettingsError(
                "TIDINGS_METRICS_PORT must be a port number (1-65535) and needs TIDINGS_METRICS=on"
            )
        metrics_token = (config.get("TIDINGS_METRICS_TOKEN") or "").strip()
        try:
            keyring = load_keyring(config, env, workdir / "tidings.keys")
        except DataKeysError as error:
            raise SettingsError(str(error)) from None
        return cls(
            env=env,
            database_url=database_url,
            redis_url=config.get("TIDINGS_REDIS_URL") or None,
            secret_key=Secret(key),
            keyring=keyring,
            allowed_origins=origins,
            staff_token_ttl=read_duration(config, "TIDINGS_STAFF_TOKEN_TTL", 12 * 3600),
            customer_token_ttl=read_duration(config, "TIDINGS_CUSTOMER_TOKEN_TTL", 30 * 24 * 3600),
            in_process_worker=read_bool(config, "TIDINGS_IN_PROCESS_WORKER", True),
            log_sql=read_bool(config, "TIDINGS_LOG_SQL", False),
            log_format=log_format,
            shutdown_seconds=shutdown_seconds,
            worker_heartbeat_file=(config.get("TIDINGS_WORKER_HEARTBEAT_FILE") or "").strip()
            or None,
            tier_policy=tier_policy,
            worker_batch_size=read_int(config, "TIDINGS_WORKER_BATCH_SIZE", 100),
            worker_lease_seconds=read_duration(config, "TIDINGS_WORKER_LEASE_SECONDS", 120),
            worker_concurrency=read_int(  # SQLite has a single writer: one loop by default
                config, "TIDINGS_WORKER_CONCURRENCY", 1 if database_url[:9] == "sqlite://" else 2
            ),
            delivery_retry_for=read_duration(config, "TIDINGS_DELIVERY_RETRY_FOR", 24 * 3600),
            delivery_max_attempts=read_optional_int(config, "TIDINGS_DELIVERY_MAX_ATTEMPTS"),
            template_render_timeout=read_seconds(config, "TIDINGS_TEMPLATE_RENDER_TIMEOUT", 0.2),
            ws_max_subscriptions=read_int(config, "TIDINGS_WS_MAX_SUBSCRIPTIONS", 10),
            ws_max_sockets_per_customer=read_int(config, "TIDINGS_WS_MAX_SOCKETS_PER_CUSTOMER", 10),
            live_send_timeout=read_seconds(config, "TIDINGS_LIVE_SEND_TIMEOUT", 5.0),
            ws_socket_ttl=read_duration(config, "TIDINGS_WS_SOCKET_TTL", 30),
            public_url=public_url,
            preference_link_ttl=read_duration(config, "TIDINGS_PREFERENCE_LINK_TTL", 7 * 24 * 3600),
            unsubscribe_mailto=mailto,
            bounce_address=bounce_address,
            email_confirmation=EmailConfirmation(confirmation),
            tracking=read_bool(config, "TIDINGS_TRACKING", True),
            attribution_window=read_duration(config, "TIDINGS_ATTRIBUTION_WINDOW", 7 * 24 * 3600),
            webhook_allow_private=read_bool(
                config, "TIDINGS_WEBHOOK_ALLOW_PRIVATE", env == "development"
            ),
            stats_min_group=read_int(config, "TIDINGS_STATS_MIN_GROUP", 1),
            login_free_attempts=read_int(config, "TIDINGS_LOGIN_FREE_ATTEMPTS", 5),
            login_max_backoff=read_duration(config, "TIDINGS_LOGIN_MAX_BACKOFF", 15 * 60),
            audit_retention_days=read_optional_int(config, "TIDINGS_AUDIT_RETENTION_DAYS"),
            erasure_grace_days=read_days(config, "TIDINGS_ERASURE_GRACE_DAYS"),
            retention_days=read_optional_int(config, "TIDINGS_RETENTION_DAYS"),
            metrics=metrics,
            metrics_port=metrics_port,
            metrics_host=(config.get("TIDINGS_METRICS_HOST") or "").strip() or "127.0.0.1",
            metrics_token=Secret(metrics_token) if metrics_token else None,
            limits=limits,
            plugin_config=config,
        )


_MAILTO = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


def _development_key(path: Path) -> str:
    """The development key kept in `tidings.secret`, created once with mode 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    except FileExistsError:
        # Another process may have created it a moment ago and be writing it: wait briefly.
        for _ in range(50):
            key = path.read_text().strip()
            if len(key) >= 32:
                return key
            time.sleep(0.02)
        raise SettingsError(f"{path} holds no usable key; delete it to make a new one") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
