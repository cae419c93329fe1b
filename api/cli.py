"""The `tidings` command: serve, worker, inbound-smtp, migrate, create-staff, create-api-key,
demo, export-schema, stats rebuild, audit verify|prune, retention prune, rotate-keys."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from tidings.api import (
    audit_cli,
    heartbeat,
    inbound_smtp,
    keys_cli,
    retention_cli,
    stats_cli,
)
from tidings.api.serving import (
    DEV_ADMIN_EMAIL,
    _ensure_dev_admin,
    cmd_serve,
    cmd_worker,
    run_command,
    server_options,
    with_db,
)
from tidings.api.settings import Settings
from tidings.core import db
from tidings.core.enums import Role
from tidings.core.errors import UserInputError
from tidings.schema.ids import to_global_id

# Re-exported: tests and benchmarks start servers exactly as `serve` does.
__all__ = ["DEV_ADMIN_EMAIL", "_ensure_dev_admin", "build_parser", "main", "server_options"]

# create-staff reads the new member's password here when --password is not given, so it
# stays out of the shell history and the process list.
NEW_PASSWORD_VARIABLE = "TIDINGS_NEW_PASSWORD"


def cmd_migrate(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> int:
        # SQLite creates its file; a PostgreSQL database is made by its operator (asking
        # tortoise to create one that exists fails with "already exists").
        await db.init_db(
            settings.database_url, create_db=settings.is_sqlite, keyring=settings.keyring
        )
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

    return run_command(work)


class PasswordError(Exception):
    """No usable password was given to create-staff."""


def new_password(args: argparse.Namespace) -> str:
    """The new member's password: --password (kept for scripts that pass it), else
    TIDINGS_NEW_PASSWORD, else asked twice at a terminal prompt, else one line of stdin."""
    if args.password:
        return args.password
    from_env = os.environ.get(NEW_PASSWORD_VARIABLE)
    if from_env:
        return from_env
    if sys.stdin.isatty():
        first = getpass.getpass("Password for the new staff member (12+ characters): ")
        if getpass.getpass("The same password again: ") != first:
            raise PasswordError("the two passwords differ; nothing was created")
        if not first:
            raise PasswordError("no password given; nothing was created")
        return first
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise PasswordError(
            f"give the password at the prompt (run in a terminal), in {NEW_PASSWORD_VARIABLE} "
            "or on standard input"
        )
    return line


def cmd_create_staff(args: argparse.Namespace) -> int:
    from tidings.core.services.staff import StaffService

    try:
        password = new_password(args)
    except PasswordError as error:
        print(f"tidings: {error}", file=sys.stderr)
        return 1

    async def work(settings: Settings) -> int:
        async def create() -> int:
            try:
                staff = await StaffService().create(args.email, password, Role(args.role.upper()))
            except UserInputError as error:
                print(f"tidings: {error.message} ({error.code})", file=sys.stderr)
                return 1
            print(to_global_id("Staff", staff.id))  # as `me { id }` shows it
            return 0

        return await with_db(settings, create, migrate=True)

    return run_command(work)


def expiry(value: str) -> datetime:
    """`--expires`: an ISO 8601 time ("2027-06-30T00:00:00Z"; no zone means UTC) or a
    duration from now ("90d", "12h", "3600")."""
    from tidings.plugins.durations import parse_duration

    try:
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        return datetime.now(UTC) + timedelta(seconds=parse_duration(value, "--expires"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cmd_create_api_key(args: argparse.Namespace) -> int:
    from tidings.core.services.api_keys import ApiKeyService

    async def work(settings: Settings) -> int:
        async def create() -> int:
            try:
                key, secret = await ApiKeyService().create(
                    None, args.name, Role(args.role.upper()), args.scope, args.expires
                )
            except UserInputError as error:
                print(f"tidings: {error.message} ({error.code})", file=sys.stderr)
                return 1
            key_id = to_global_id("ApiKey", key.id)  # as the API shows it
            print(f"id:     {key_id}\nsecret: {secret}\n(the secret is shown this once)")
            return 0

        return await with_db(settings, create, migrate=True)

    return run_command(work)


def cmd_demo(args: argparse.Namespace) -> int:
    from tidings.core.demo import DemoRefusedError, load_demo

    async def work(settings: Settings) -> int:
        if not settings.is_development:
            print(
                "tidings: demo data is for development; it is refused when TIDINGS_ENV="
                f"{settings.env}",
                file=sys.stderr,
            )
            return 1

        async def load() -> int:
            try:
                summary = await load_demo()
            except DemoRefusedError as error:
                print(f"tidings: {error}", file=sys.stderr)
                return 1
            print(summary)
            return 0

        return await with_db(settings, load, migrate=True)

    return run_command(work)


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
    heartbeat.add_parser(sub)

    inbound_smtp.add_parser(sub)
    stats_cli.add_parser(sub)
    audit_cli.add_parser(sub)
    retention_cli.add_parser(sub)
    keys_cli.add_parser(sub)

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
        "tidings create-staff --email you@example.com --role admin. The password is asked "
        f"for twice at a prompt, or read from {NEW_PASSWORD_VARIABLE} or one line of standard "
        "input; --password still works but leaves it in the shell history. Prints the "
        "member's global id, as the API shows it.",
    )
    staff.add_argument("--email", required=True)
    staff.add_argument(
        "--password",
        help=f"at least 12 characters (default: {NEW_PASSWORD_VARIABLE}, else a prompt)",
    )
    staff.add_argument("--role", required=True, choices=ROLES, type=str.lower)
    staff.set_defaults(handler=cmd_create_staff)

    key = sub.add_parser(
        "create-api-key",
        help="create an API key for your back end and print its secret once",
        description="Create an API key acting with ROLE; prints its global id and the secret, "
        "once.",
    )
    key.add_argument("--name", required=True)
    key.add_argument("--role", required=True, choices=ROLES, type=str.lower)
    key.add_argument(
        "--scope",
        action="append",
        metavar="SCOPE",
        help="narrow the key to SCOPE (repeatable: send, customers:read, customers:write, "
        "consent:write, events:write, messages:read, stats:read, categories:write, "
        "webhooks:write, admin); none: the role's full power",
    )
    key.add_argument(
        "--expires",
        type=expiry,
        metavar="WHEN",
        help='when the key stops working: an ISO time or a duration from now ("90d")',
    )
    key.set_defaults(handler=cmd_create_api_key)

    demo = sub.add_parser(
        "demo",
        help="load a small, realistic demo data set",
        description="Load demo customers (several tiers and timezones, en and zh-CN), "
        "categories, grants with evidence, preferences and devices. Safe to run twice. "
        "Refused when TIDINGS_ENV=production and on a database that holds other customers.",
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
    # Tortoise announces its shutdown at INFO on every command; its warnings still show.
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
