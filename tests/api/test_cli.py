"""The `tidings` console script, run for real in subprocesses with a clean environment."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import PASSWORD, create_pg_database, drop_pg_database, pg_url
from tidings.schema.ids import from_global_id, to_global_id

REPO = Path(__file__).resolve().parents[2]
TIDINGS = shutil.which("tidings", path=str(Path(sys.executable).parent))
SECRET = "cli-test-secret-" + "y" * 32


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


def tidings(*args: str, cwd: Path, timeout: float = 60, **settings: str):
    assert TIDINGS is not None, "the tidings console script is not installed in this venv"
    return subprocess.run(
        [TIDINGS, *args],
        cwd=cwd,
        env=clean_env(**settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def pg_database():
    """A fresh, empty PostgreSQL database (no tables), dropped afterwards."""
    name = asyncio.run(create_pg_database())
    try:
        yield pg_url(name)
    finally:
        asyncio.run(drop_pg_database(name))


def pg_tables(url: str) -> set[str]:
    async def query() -> set[str]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        finally:
            await conn.close()
        return {row["table_name"] for row in rows}

    return asyncio.run(query())


# Help ---------------------------------------------------------------------------------------

COMMANDS = {
    "serve": ["--host", "--port"],
    "inbound-smtp": ["--host", "--port", "TIDINGS_BOUNCE_ADDRESS"],
    "migrate": ["migration"],
    "create-staff": ["--email", "--password", "--role", "admin", "marketer", "agent", "auditor"],
    "create-api-key": ["--name", "--role"],
    "demo": ["demo"],
    "export-schema": ["--check", "schema.graphql"],
}


def test_help_lists_every_command(tmp_path):
    result = tidings("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize(("command", "mentions"), COMMANDS.items())
def test_each_command_has_help(tmp_path, command, mentions):
    result = tidings(command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"tidings {command}" in result.stdout
    for word in mentions:
        assert word in result.stdout


def test_unknown_command_fails(tmp_path):
    result = tidings("frobnicate", cwd=tmp_path)
    assert result.returncode != 0
    assert "invalid choice" in result.stderr


# create-staff, create-api-key ---------------------------------------------------------------


def test_create_staff_prints_an_id_and_refuses_a_duplicate(tmp_path):
    args = ("create-staff", "--email", "first@example.com", "--password", PASSWORD)
    created = tidings(*args, "--role", "admin", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    # Only the id, on stdout, as the API's global id (`me { id }`).
    printed = created.stdout.strip()
    staff_id = from_global_id(printed, "Staff")
    assert staff_id is not None and printed == to_global_id("Staff", staff_id)
    # With no settings: a SQLite file and a development key in the working directory.
    assert (tmp_path / "tidings.sqlite3").is_file()
    assert (tmp_path / "tidings.secret").stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(tmp_path / "tidings.sqlite3") as conn:
        rows = conn.execute("SELECT id, email, role FROM staff").fetchall()
    assert [(uuid.UUID(str(r[0])), r[1], r[2]) for r in rows] == [
        (staff_id, "first@example.com", "ADMIN")
    ]

    again = tidings(*args, "--role", "agent", cwd=tmp_path)
    assert again.returncode != 0
    assert again.stdout.strip() == ""
    assert "DUPLICATE_EMAIL" in again.stderr
    assert "email" in again.stderr.lower()


@pytest.mark.parametrize(
    ("email", "password", "role", "code", "message"),
    [
        ("x@example.com", PASSWORD, "superuser", 2, "invalid choice"),
        ("not-an-email", PASSWORD, "admin", 1, "INVALID_EMAIL"),
        ("x@example.com", "short", "admin", 1, "WEAK_PASSWORD"),
        ("x@example.com", "Qwerty123456!", "admin", 1, "COMMON_PASSWORD"),
    ],
)
def test_create_staff_rejects_bad_input(tmp_path, email, password, role, code, message):
    result = tidings(
        "create-staff", "--email", email, "--password", password, "--role", role, cwd=tmp_path
    )
    assert result.returncode == code
    assert message in result.stderr
    assert result.stdout.strip() == ""
    if (tmp_path / "tidings.sqlite3").exists():
        with sqlite3.connect(tmp_path / "tidings.sqlite3") as conn:
            assert conn.execute("SELECT count(*) FROM staff").fetchone() == (0,)


def test_create_api_key_prints_its_secret_once(tmp_path):
    result = tidings("create-api-key", "--name", "backend", "--role", "marketer", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    secret = re.search(r"^secret:\s+(tdk_\S+)$", result.stdout, re.MULTILINE)
    key_id = re.search(r"^id:\s+(\S+)$", result.stdout, re.MULTILINE)
    assert secret and key_id
    with sqlite3.connect(tmp_path / "tidings.sqlite3") as conn:
        stored = conn.execute("SELECT id, name, role, key_hash FROM api_keys").fetchall()
    assert [(name, role) for _, name, role, _ in stored] == [("backend", "MARKETER")]
    # The id is the API's global id for the key, as `apiKeys { nodes { id } }` shows it.
    assert key_id.group(1) == to_global_id("ApiKey", uuid.UUID(str(stored[0][0])))
    stored = [row[1:] for row in stored]
    assert secret.group(1) not in stored[0][2]


def test_create_api_key_with_scopes_and_an_expiry(tmp_path):
    result = tidings(
        "create-api-key", "--name", "checkout", "--role", "admin",
        "--scope", "send", "--scope", "customers:read", "--expires", "30d",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "tidings.sqlite3") as conn:
        scopes, expires = conn.execute("SELECT scopes, expires_at FROM api_keys").fetchone()
    assert json.loads(scopes) == ["customers:read", "send"]
    left = datetime.fromisoformat(expires).replace(tzinfo=UTC) - datetime.now(UTC)
    assert timedelta(days=29, hours=23) < left <= timedelta(days=30)


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (("--scope", "everything"), 1, "UNKNOWN_SCOPE"),
        (("--expires", "2001-01-01"), 1, "INVALID_TIME"),
        (("--expires", "soon"), 2, "--expires"),
    ],
)
def test_create_api_key_refuses_bad_scopes_and_expiries(tmp_path, extra, code, message):
    result = tidings("create-api-key", "--name", "k", "--role", "admin", *extra, cwd=tmp_path)
    assert result.returncode == code
    assert message in result.stderr and result.stdout.strip() == ""


# migrate ------------------------------------------------------------------------------------


def test_migrate_sqlite_is_idempotent(tmp_path):
    url = f"sqlite://{tmp_path / 'migrated.sqlite3'}"
    first = tidings("migrate", cwd=tmp_path, TIDINGS_DATABASE_URL=url)
    assert first.returncode == 0, first.stderr
    assert re.search(r"^applied \S*0001_initial", first.stdout, re.MULTILINE)
    second = tidings("migrate", cwd=tmp_path, TIDINGS_DATABASE_URL=url)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
    assert "applied" not in second.stdout
    with sqlite3.connect(tmp_path / "migrated.sqlite3") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"customers", "staff", "permission_entries", "permission_states"} <= tables


def test_migrate_postgres_is_idempotent(tmp_path, pg_database):
    first = tidings("migrate", cwd=tmp_path, TIDINGS_DATABASE_URL=pg_database)
    assert first.returncode == 0, first.stderr
    assert re.search(r"^applied \S*0001_initial", first.stdout, re.MULTILINE)
    assert {"customers", "staff", "permission_entries"} <= pg_tables(pg_database)
    second = tidings("migrate", cwd=tmp_path, TIDINGS_DATABASE_URL=pg_database)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
    assert "applied" not in second.stdout


# serve --------------------------------------------------------------------------------------


def test_serve_refuses_a_postgres_schema_that_is_behind(tmp_path, pg_database):
    result = tidings(
        "serve", "--port", str(free_port()), cwd=tmp_path, TIDINGS_DATABASE_URL=pg_database
    )
    assert result.returncode != 0
    assert "tidings migrate" in result.stderr
    assert "Tidings on http" not in result.stdout
    assert "customers" not in pg_tables(pg_database)  # it did not migrate


def test_serve_in_production_needs_a_secret_key(tmp_path):
    result = tidings(
        "serve",
        "--port",
        str(free_port()),
        cwd=tmp_path,
        TIDINGS_ENV="production",
        TIDINGS_DATABASE_URL=f"sqlite://{tmp_path / 'prod.sqlite3'}",
    )
    assert result.returncode != 0
    assert "TIDINGS_SECRET_KEY" in result.stderr
    assert not (tmp_path / "tidings.secret").exists()


class Server:
    """`tidings serve` in a subprocess, its stdout read line by line."""

    def __init__(self, cwd: Path, port: int, **settings: str) -> None:
        assert TIDINGS is not None
        self.port = port
        self.stderr = open(cwd / f"serve-{port}.log", "w")
        self.process = subprocess.Popen(
            [TIDINGS, "serve", "--port", str(port)],
            cwd=cwd,
            env=clean_env(**settings),
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def read_until(self, marker: str, timeout: float = 90) -> list[str]:
        """Lines up to and including the first containing `marker`."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"serve ended before {marker!r}: {seen}")
            seen.append(line)
            if marker in line:
                return seen

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "serve exited"
            try:
                response = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                if response.status_code == 200:
                    assert response.json() == {"status": "ok"}
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("serve never became healthy")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.stderr.close()


def login(port: int, email: str, password: str) -> dict:
    response = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={
            "query": "mutation($e: String!, $p: String!) "
            "{ login(email: $e, password: $p) { token errors { code } } }",
            "variables": {"e": email, "p": password},
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["login"]


def test_serve_on_an_empty_sqlite_database_prints_working_admin_credentials(tmp_path):
    server = Server(tmp_path, free_port())
    try:
        lines = "".join(server.read_until("Tidings on http"))
        email = re.search(r"email:\s+(\S+)", lines)
        password = re.search(r"password:\s+(\S+)", lines)
        assert email and password, lines
        server.wait_healthy()
        good = login(server.port, email.group(1), password.group(1))
        assert good["errors"] == [] and good["token"]
        bad = login(server.port, email.group(1), password.group(1) + "x")
        assert bad == {"token": None, "errors": [{"code": "INVALID_CREDENTIALS"}]}
    finally:
        server.stop()
    assert server.process.returncode is not None

    # Shown once: a second start on the same database creates and prints nothing.
    again = Server(tmp_path, free_port())
    try:
        lines = "".join(again.read_until("Tidings on http"))
        assert "password" not in lines
        again.wait_healthy()
    finally:
        again.stop()
    with sqlite3.connect(tmp_path / "tidings.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM staff").fetchone() == (1,)


# demo, export-schema ------------------------------------------------------------------------


def test_demo_loads_data_and_is_safe_to_run_twice(tmp_path):
    first = tidings("demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "loaded" in first.stdout

    def counts() -> tuple[int, ...]:
        with sqlite3.connect(tmp_path / "tidings.sqlite3") as conn:
            return tuple(
                conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("customers", "categories", "permission_entries", "preferences")
            )

    loaded = counts()
    assert loaded[0] >= 5 and loaded[1] >= 3 and loaded[2] > 0 and loaded[3] > 0
    second = tidings("demo", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "already" in second.stdout
    assert counts() == loaded


def test_demo_on_postgres(tmp_path, pg_database):
    assert tidings("migrate", cwd=tmp_path, TIDINGS_DATABASE_URL=pg_database).returncode == 0
    for _ in range(2):
        result = tidings("demo", cwd=tmp_path, TIDINGS_DATABASE_URL=pg_database)
        assert result.returncode == 0, result.stderr
    assert {"customers", "categories"} <= pg_tables(pg_database)


def test_export_schema_check_passes_in_the_repository():
    result = tidings("export-schema", "--check", cwd=REPO)
    assert result.returncode == 0, result.stderr
