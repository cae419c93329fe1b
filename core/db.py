"""Database configuration, start-up and migrations (tortoise-orm's built-in migrator)."""

from __future__ import annotations

from typing import Any

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.connection import get_connection
from tortoise.migrations.executor import MigrationExecutor
from tortoise.migrations.operations import AlterField

from tidings.core.crypto import Keyring, install_keyring

MODELS_MODULE = "tidings.core.models"
MIGRATIONS_MODULE = "tidings.core.migrations"


class SchemaBehindError(Exception):
    """The database lacks migrations this code needs; `tidings migrate` brings it up to date."""

    def __init__(self, pending: list[str]) -> None:
        super().__init__(
            f"the database schema is behind by {len(pending)} migration(s) "
            f"({', '.join(pending)}); run `tidings migrate` first"
        )
        self.pending = pending


# PostgreSQL pool size when the URL names none (`?maxsize=N` does): asyncpg's own default,
# above tortoise's 5, so eight concurrent requests and the in-process worker seldom queue for
# a connection.
POOL_MAXSIZE = 10


async def keep_session(connection: asyncpg.Connection) -> None:
    """asyncpg's pool `reset`: what a connection goes through on its way back to the pool.

    asyncpg's default runs `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL;`, one more round trip on every release (a query outside a transaction is one
    acquire and one release): about 40% of a simple query's processor time. Tidings leaves no
    session state behind: its advisory locks are transaction-scoped (`pg_advisory_xact_lock`),
    its settings `SET LOCAL` or `SET TRANSACTION`, live events go through Redis (no LISTEN),
    and it holds no cursor outside a transaction. An open transaction (a task cancelled inside
    one) is still rolled back: asyncpg does that itself before calling this.
    tests/core/test_pool_session.py fails when code starts to leave any of these."""
    return None


def _connection(database_url: str) -> str | dict[str, Any]:
    """SQLite by its URL; PostgreSQL expanded, to size asyncpg's pool and hand it
    `keep_session`."""
    if database_url.startswith("sqlite"):
        return database_url
    config = expand_db_url(database_url)
    if config["engine"] != "tortoise.backends.asyncpg":
        return database_url
    credentials = config["credentials"]
    credentials.setdefault("maxsize", POOL_MAXSIZE)
    credentials["reset"] = keep_session
    return config


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The tortoise configuration for one database URL."""
    return {
        "connections": {"default": _connection(database_url)},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For `tortoise makemigrations` (pyproject's [tool.tortoise]); the service never reads it. A
# fixed in-memory database: the autodetector compares the models with the migrations, not with
# a database, and nothing here reads the environment when the module is imported.
MIGRATIONS_CONFIG = tortoise_config("sqlite://:memory:")


async def init_db(
    database_url: str, *, create_db: bool = False, keyring: Keyring | None = None
) -> None:
    """Open the connections. Global fallback on, so uvicorn's request tasks see them.
    `keyring`: the keys encrypted columns use from now on (core/crypto/active.py)."""
    if keyring is not None:
        install_keyring(keyring)
    await Tortoise.init(
        config=tortoise_config(database_url),
        _create_db=create_db,
        _enable_global_fallback=True,
    )


async def close_db() -> None:
    """Close the connections and forget the models' binding, so another URL can follow."""
    await Tortoise.close_connections()
    await Tortoise._reset_apps()
    EXECUTOR_CACHE.clear()  # SQL prepared for the old dialect, keyed by connection name


def _executor(database_url: str) -> MigrationExecutor:
    config = tortoise_config(database_url)
    return MigrationExecutor(get_connection("default"), config["apps"])


async def pending_migrations(database_url: str) -> list[str]:
    """Names of the migrations not yet applied (connections must be open)."""
    plan = await _executor(database_url).plan()
    return [
        f"{step.migration.app_label}.{step.migration.name}" for step in plan if not step.backward
    ]


class SchemaCheck:
    """For a readiness probe: which migrations this code knows the database lacks, in one
    statement per check (the migrations on disk are listed once, at the first check). Raises
    when the database does not answer: tortoise's own plan reads an unreachable database as
    one with nothing applied."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._known: frozenset[str] | None = None
        self._table = ""

    async def missing(self) -> list[str]:
        if self._known is None:
            executor = _executor(self.database_url)
            executor.loader.load_disk()
            self._table = executor.recorder.table_name
            self._known = frozenset(
                f"{key.app_label}.{key.name}" for key in executor.loader.disk_migrations
            )
        rows = await get_connection("default").execute_query_dict(
            f'SELECT app, name FROM "{self._table}"'  # noqa: S608 (tortoise's own table name)
        )
        applied = {f"{row['app']}.{row['name']}" for row in rows}
        return sorted(self._known - applied)


async def migrate(database_url: str) -> list[str]:
    """Apply every pending migration; idempotent. Returns what was applied."""
    pending = await pending_migrations(database_url)
    if pending:
        await _executor(database_url).migrate()
    return pending


async def ensure_schema_current(database_url: str) -> None:
    """Refuse to run against a database whose schema is behind."""
    pending = await pending_migrations(database_url)
    if pending:
        raise SchemaBehindError(pending)


class AlterEnumChoices(AlterField):
    """For a migration: a CharEnumField's enum gains a value. The column (a VARCHAR wide
    enough) is unchanged, only the field's recorded choices move on; a plain AlterField would
    rebuild the table on SQLite and drop its unique constraints and indexes."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None
