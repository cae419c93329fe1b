"""`tidings serve` and `tidings worker`, and what every database-backed command shares:
settings loaded once, the database opened and closed around the work, failures as one line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import ipaddress
import logging
import secrets
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType
from typing import Any

from tortoise.exceptions import DBConnectionError

from tidings.api.logs import configure_logging, uvicorn_log_config
from tidings.api.metrics import MetricsPortError
from tidings.api.settings import Settings, SettingsError
from tidings.api.ws_protocol import LeanWebSocketProtocol
from tidings.core import db
from tidings.core.crypto import KeyringError
from tidings.core.enums import Role

DEV_ADMIN_EMAIL = "admin@example.com"

log = logging.getLogger("tidings")


def run_command(work: Callable[[Settings], Awaitable[int]]) -> int:
    """Load the settings and run `work`; the failures a user can fix are one line each, with
    an exit code of their own (2 settings, 3 schema behind, 4 no database)."""
    try:
        settings = Settings.load()
    except SettingsError as error:
        print(f"tidings: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    try:
        return asyncio.run(work(settings))
    except db.SchemaBehindError as error:
        print(f"tidings: {error}", file=sys.stderr)
        return 3
    except DBConnectionError:
        print("tidings: cannot connect to the database in TIDINGS_DATABASE_URL", file=sys.stderr)
        return 4
    except KeyringError as error:  # a row under a key the keyring lacks, say
        print(f"tidings: {error}", file=sys.stderr)
        return 5
    except MetricsPortError as error:  # TIDINGS_METRICS_PORT taken
        print(f"tidings: {error}", file=sys.stderr)
        return 1


async def with_db(settings: Settings, work: Callable[[], Awaitable[int]], *, migrate: bool) -> int:
    """Open the database (migrating SQLite when asked), run `work`, close."""
    await db.init_db(settings.database_url, create_db=settings.is_sqlite, keyring=settings.keyring)
    try:
        if migrate and settings.is_sqlite:
            await db.migrate(settings.database_url)
        else:
            await db.ensure_schema_current(settings.database_url)
        return await work()
    finally:
        await db.close_db()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _ensure_dev_admin(settings: Settings) -> None:
    """On an empty development database, create an admin and print how to log in."""
    from tidings.core.errors import UserInputError
    from tidings.core.models import Staff
    from tidings.core.services.staff import StaffService

    if await Staff.exists():
        return
    password = secrets.token_urlsafe(12)
    try:
        await StaffService().create(DEV_ADMIN_EMAIL, password, Role.ADMIN)
    except UserInputError:  # another process starting beside this one made it first
        return
    print(
        "\n  Development admin created (shown once; development only):\n"
        f"    email:    {DEV_ADMIN_EMAIL}\n    password: {password}\n"
        '  In GraphiQL: mutation { login(email: "...", password: "...")'
        " { token errors { code } } }\n"
        '  then add the header {"Authorization": "Bearer <token>"}.\n',
        flush=True,
    )


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's settings for `serve` (and the tests' servers, so they run the same)."""
    return {
        # uvicorn's default websocket protocol, keeping less per connection (api/ws_protocol.py).
        "ws": LeanWebSocketProtocol,
        "ws_ping_interval": 20,
        # Notifications are small JSON; compression state costs ~40 KB per socket.
        "ws_per_message_deflate": False,
        # A websocket frame gets the request body's limit.
        "ws_max_size": settings.limits.max_body_bytes,
        "proxy_headers": False,
    }


def tune_gc() -> None:
    """A server holds many long-lived objects (a socket and its subscriptions each) and
    allocates many short-lived ones per event. Everything imported so far never needs
    collecting again (`freeze`), and young objects get room to die before a collection
    (CPython's default of 700 allocations made collection a large share of a live fan-out)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


class PortInUseError(Exception):
    """The address `serve` was asked to listen on is taken (or not this machine's)."""


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else starts, so a taken port is one
    clear line rather than uvicorn's log of a started and stopped application."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise PortInUseError(
            f"cannot listen on {host}:{port} ({error.strerror or error}); "
            f"is another server using port {port}? Choose another with --port "
            f"(make run PORT={port + 1})"
        ) from None
    sock.set_inheritable(True)
    return sock


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


@contextlib.contextmanager
def sigterm_exits_cleanly() -> Iterator[None]:
    """SIGTERM ends `serve` with exit code 0. While uvicorn runs, it shuts down gracefully
    (api/shutdown.py) and then raises the signal again, which would otherwise end the process
    as killed; before and after, nothing is in flight and it exits at once."""
    previous = signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_serve(args: argparse.Namespace) -> int:
    with sigterm_exits_cleanly():
        return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from tidings.api.app import create_app
    from tidings.api.shutdown import GracefulServer

    try:
        settings = Settings.load()
    except SettingsError as error:
        print(f"tidings: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    try:
        sock = bind_socket(args.host, args.port)
    except PortInUseError as error:
        print(f"tidings: {error}", file=sys.stderr)
        return 1
    if settings.is_development and not _is_loopback(args.host):
        log.warning(
            "serving in development on %s: GraphiQL, introspection and a file-kept secret key "
            "are on; set TIDINGS_ENV=production for anything but local development",
            args.host,
        )

    async def prepare() -> int:
        async def work() -> int:
            if settings.is_development:
                await _ensure_dev_admin(settings)
            return 0

        return await with_db(settings, work, migrate=True)

    with sock:
        try:
            asyncio.run(prepare())
        except db.SchemaBehindError as error:
            print(f"tidings: {error}", file=sys.stderr)
            return 3
        try:
            app = create_app(settings)
        except ValueError as error:  # a provider's settings, named in the message
            print(f"tidings: {error}", file=sys.stderr)
            return 2
        tune_gc()
        print(f"  Tidings on http://{args.host}:{args.port}/graphql", flush=True)
        config = uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            log_config=uvicorn_log_config(settings.log_format),
            timeout_graceful_shutdown=max(1, round(settings.shutdown_seconds)),
            **server_options(settings),
        )
        GracefulServer(config, app.state.going_away).run(sockets=[sock])
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Deliver from the queue until SIGINT or SIGTERM; then stop within
    TIDINGS_SHUTDOWN_SECONDS (api/background.py) and exit 0."""
    from tidings.api.app import quiet_sql_logs
    from tidings.api.background import Background
    from tidings.api.heartbeat import HeartbeatError, heartbeat
    from tidings.api.runtime import build_runtime
    from tidings.core.delivery.tier_audit import record_tier_policy

    async def work(settings: Settings) -> int:
        quiet_sql_logs(settings)
        try:
            beat = heartbeat(settings.worker_heartbeat_file)
        except HeartbeatError as error:
            print(f"tidings: {error}", file=sys.stderr)
            return 2
        try:
            runtime = build_runtime(settings, listen=False)
        except ValueError as error:  # a provider's settings, named in the message
            print(f"tidings: {error}", file=sys.stderr)
            return 2
        tune_gc()
        if not settings.redis_url:
            print(
                "  note: TIDINGS_REDIS_URL is unset, so live notifications from this worker reach"
                " no subscriber (apps still find them in the inbox)",
                flush=True,
            )
        runtime.worker.heartbeat = beat

        async def run() -> int:
            await record_tier_policy(runtime.services.tiers)
            await runtime.bus.start()
            metrics_port = await runtime.metrics_port().start()  # TIDINGS_METRICS_PORT
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            print("  Tidings worker: delivering (Ctrl-C to stop)", flush=True)
            # The webhook dispatcher runs beside the delivery worker, as a task of its own.
            background = Background(runtime)
            background.start()
            try:
                await background.until(stop)
                await background.shutdown(settings.shutdown_seconds)
            finally:
                await metrics_port.aclose()
                await runtime.registry.aclose()
                await runtime.bus.aclose()
            return 0

        return await with_db(settings, run, migrate=False)

    return run_command(work)
