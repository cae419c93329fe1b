"""The `tidings` command: serve, migrate, create-staff, create-api-key, demo, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import logging
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tortoise.exceptions import DBConnectionError

from tidings.api.settings import Settings, SettingsError
from tidings.core import db
from tidings.core.enums import Role
from tidings.core.errors import UserInputError

DEV_ADMIN_EMAIL = "admin@example.com"

log = logging.getLogger("tidings")


def _run(work: Callable[[Settings], Awaitable[int]]) -> int:
    try:
        settings = Settings.load()
    except SettingsError as error:
        print(f"tidings: {error}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(work(settings))
    except db.SchemaBehindError as error:
        print(f"tidings: {error}", file=sys.stderr)
        return 3
    except DBConnectionError:
        print("tidings: cannot connect to the database in TIDINGS_DATABASE_URL", file=sys.stderr)
        return 4


async def _with_db(settings: Settings, work: Callable[[], Awaitable[int]], *, migrate: bool) -> int:
    """Open the database (migrating SQLite when asked), run `work`, close."""
    await db.init_db(settings.database_url, create_db=settings.is_sqlite)
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


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from tidings.api.app import create_app

    try:
        settings = Settings.load()
    except SettingsError as error:
        print(f"tidings: {error}", file=sys.stderr)
        return 2
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

        return await _with_db(settings, work, migrate=True)

    try:
        asyncio.run(prepare())
    except db.SchemaBehindError as error:
        print(f"tidings: {error}", file=sys.stderr)
        return 3
    app = create_app(settings)
    tune_gc()
    print(f"  Tidings on http://{args.host}:{args.port}/graphql", flush=True)
    uvicorn.run(
        app, host=args.host, port=args.port, log_level=args.log_level, **server_options(settings)
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Deliver from the queue until SIGINT or SIGTERM; rows in hand are finished first."""
    import signal

    from tidings.api.app import build_runtime, quiet_sql_logs

    async def work(settings: Settings) -> int:
        quiet_sql_logs(settings)
        runtime = build_runtime(settings, listen=False)
        tune_gc()
        if not settings.redis_url:
            print(
                "  note: TIDINGS_REDIS_URL is unset, so live notifications from this worker reach"
                " no subscriber (apps still find them in the inbox)",
                flush=True,
            )

        async def run() -> int:
            await runtime.bus.start()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            print("  Tidings worker: delivering (Ctrl-C to stop)", flush=True)
            try:
                await runtime.worker.run(stop)
            finally:
                await runtime.registry.aclose()
                await runtime.bus.aclose()
            return 0

        return await _with_db(settings, run, migrate=False)

    return _run(work)


def cmd_migrate(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> int:
        # SQLite creates its file; a PostgreSQL database is made by its operator (asking
        # tortoise to create one that exists fails with "already exists").
        await db.init_db(settings.database_url, create_db=settings.is_sqlite)
        try:
            applied = await db.migrate(settings.database_url)
        finally:
            await db.close_db()
        if applied:
            for name in applied:
                print(f"applied {name}")
        else:
            print("the database is up to date")
        return 0

    return _run(work)


def cmd_create_staff(args: argparse.Namespace) -> int:
    from tidings.core.services.staff import StaffService

    async def work(settings: Settings) -> int:
        async def create() -> int:
            try:
                staff = await StaffService().create(
                    args.email, args.password, Role(args.role.upper())
                )
            except UserInputError as error:
                print(f"tidings: {error.message} ({error.code})", file=sys.stderr)
                return 1
            print(staff.id)
            return 0

        return await _with_db(settings, create, migrate=True)

    return _run(work)


def cmd_create_api_key(args: argparse.Namespace) -> int:
    from tidings.core.services.staff import ApiKeyService

    async def work(settings: Settings) -> int:
        async def create() -> int:
            try:
                key, secret = await ApiKeyService().create(None, args.name, Role(args.role.upper()))
            except UserInputError as error:
                print(f"tidings: {error.message} ({error.code})", file=sys.stderr)
                return 1
            print(f"id:     {key.id}\nsecret: {secret}\n(the secret is shown this once)")
            return 0

        return await _with_db(settings, create, migrate=True)

    return _run(work)


def cmd_demo(args: argparse.Namespace) -> int:
    from tidings.core.demo import load_demo

    async def work(settings: Settings) -> int:
        async def load() -> int:
            summary = await load_demo()
            print(summary)
            return 0

        return await _with_db(settings, load, migrate=True)

    return _run(work)


def cmd_export_schema(args: argparse.Namespace) -> int:
    from tidings.schema import SCHEMA_FILE, export_sdl

    sdl = export_sdl()
    if args.check:
        current = SCHEMA_FILE.read_text() if SCHEMA_FILE.exists() else ""
        if current != sdl:
            print("schema.graphql is out of date: run `tidings export-schema`", file=sys.stderr)
            return 1
        return 0
    SCHEMA_FILE.write_text(sdl)
    print(f"wrote {SCHEMA_FILE}")
    return 0


ROLES = [r.value.lower() for r in Role]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tidings",
        description="Tidings: message customers only as each customer has permitted. "
        "Settings come from TIDINGS_* environment variables and a .env file; with none, "
        "it runs on a SQLite file in this directory.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the GraphQL service",
        description="Serve GraphQL at /graphql (GraphiQL there in development) and /healthz. "
        "On SQLite the schema is migrated at start; on PostgreSQL run `tidings migrate` first.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.set_defaults(handler=cmd_serve)

    worker = sub.add_parser(
        "worker",
        help="deliver queued messages (for when serve runs with TIDINGS_IN_PROCESS_WORKER=false)",
        description="Claim due deliveries and hand them to providers. Any number may run "
        "against one PostgreSQL; on SQLite run one (or let `serve` deliver in process).",
    )
    worker.set_defaults(handler=cmd_worker)

    migrate = sub.add_parser(
        "migrate",
        help="bring the database schema up to date (idempotent)",
        description="Apply every pending migration to TIDINGS_DATABASE_URL. Safe to run again.",
    )
    migrate.set_defaults(handler=cmd_migrate)

    staff = sub.add_parser(
        "create-staff",
        help="create a staff account and print its id",
        description="Create a staff account, e.g. the first admin: "
        "tidings create-staff --email you@example.com --password '...' --role admin",
    )
    staff.add_argument("--email", required=True)
    staff.add_argument("--password", required=True, help="at least 12 characters")
    staff.add_argument("--role", required=True, choices=ROLES, type=str.lower)
    staff.set_defaults(handler=cmd_create_staff)

    key = sub.add_parser(
        "create-api-key",
        help="create an API key for your back end and print its secret once",
        description="Create an API key acting with ROLE; the secret is printed once.",
    )
    key.add_argument("--name", required=True)
    key.add_argument("--role", required=True, choices=ROLES, type=str.lower)
    key.set_defaults(handler=cmd_create_api_key)

    demo = sub.add_parser(
        "demo",
        help="load a small, realistic demo data set",
        description="Load demo customers (several tiers and timezones, en and zh-CN), "
        "categories, grants with evidence and preferences. Safe to run twice.",
    )
    demo.set_defaults(handler=cmd_demo)

    export = sub.add_parser(
        "export-schema",
        help="write schema.graphql from the code",
        description="Write the GraphQL schema as SDL to schema.graphql (--check: only compare).",
    )
    export.add_argument("--check", action="store_true", help="exit 1 when the file differs")
    export.set_defaults(handler=cmd_export_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
