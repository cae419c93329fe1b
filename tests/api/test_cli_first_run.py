"""What a newcomer meets on the command line: the first admin's password kept out of argv,
the demo refused where it does not belong, a taken port in one line, quiet output, and
`make run PORT=...`. Each runs the real console script in a subprocess."""

from __future__ import annotations

import os
import pty
import select
import socket
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.api.test_cli import REPO, TIDINGS, clean_env, free_port, tidings
from tests.api.test_encryption_settings import PRODUCTION_KEYS
from tests.conftest import PASSWORD
from tidings.schema.ids import from_global_id


def staff_rows(path: Path) -> list[tuple[uuid.UUID, str]]:
    with sqlite3.connect(path / "tidings.sqlite3") as conn:
        rows = conn.execute("SELECT id, email FROM staff").fetchall()
    return [(uuid.UUID(str(row[0])), row[1]) for row in rows]


# create-staff: the password ------------------------------------------------------------------


def test_create_staff_reads_the_password_from_tidings_new_password(tmp_path):
    result = tidings(
        "create-staff",
        "--email",
        "env@example.com",
        "--role",
        "admin",
        cwd=tmp_path,
        TIDINGS_NEW_PASSWORD=PASSWORD,
    )
    assert result.returncode == 0, result.stderr
    staff_id = from_global_id(result.stdout.strip(), "Staff")
    assert staff_rows(tmp_path) == [(staff_id, "env@example.com")]
    assert PASSWORD not in result.stdout + result.stderr


def test_create_staff_reads_one_line_of_standard_input(tmp_path):
    result = subprocess.run(
        [TIDINGS, "create-staff", "--email", "pipe@example.com", "--role", "agent"],
        cwd=tmp_path,
        env=clean_env(),
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [email for _, email in staff_rows(tmp_path)] == ["pipe@example.com"]


def test_create_staff_without_any_password_creates_nothing(tmp_path):
    result = subprocess.run(
        [TIDINGS, "create-staff", "--email", "none@example.com", "--role", "admin"],
        cwd=tmp_path,
        env=clean_env(),
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "TIDINGS_NEW_PASSWORD" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.strip() == ""


def run_on_a_terminal(cwd: Path, args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run with a pseudo-terminal as stdin/stdout and no controlling terminal, so getpass
    prompts on it; answer each prompt in turn. Returns the exit code and all output."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [TIDINGS, *args],
        cwd=cwd,
        env=clean_env(),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        start_new_session=True,
    )
    os.close(follower)
    output = b""
    answered = 0
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the other side closed
                    break
                if not chunk:
                    break
                output += chunk
                # Answer each prompt once it is shown in full: getpass flushes what was typed
                # before it switched echo off.
                if answered < len(answers) and output.count(b"assword") > answered:
                    if output.endswith(b": "):
                        os.write(leader, answers[answered].encode() + b"\n")
                        answered += 1
            elif process.poll() is not None:
                break
        process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    return process.returncode, output.decode(errors="replace")


def test_create_staff_asks_twice_at_a_terminal(tmp_path):
    code, output = run_on_a_terminal(
        tmp_path,
        ["create-staff", "--email", "tty@example.com", "--role", "admin"],
        [PASSWORD, PASSWORD],
    )
    assert code == 0, output
    assert output.count("assword") >= 2  # two prompts
    assert PASSWORD not in output  # not echoed
    [(staff_id, email)] = staff_rows(tmp_path)
    assert email == "tty@example.com"
    assert from_global_id(output.strip().splitlines()[-1].strip(), "Staff") == staff_id


def test_create_staff_refuses_two_different_answers(tmp_path):
    code, output = run_on_a_terminal(
        tmp_path,
        ["create-staff", "--email", "tty@example.com", "--role", "admin"],
        [PASSWORD, PASSWORD + "x"],
    )
    assert code == 1, output
    assert "differ" in output
    if (tmp_path / "tidings.sqlite3").exists():
        assert staff_rows(tmp_path) == []


# demo ------------------------------------------------------------------------------------------


def test_demo_refuses_production(tmp_path):
    result = tidings(
        "demo",
        cwd=tmp_path,
        TIDINGS_ENV="production",
        TIDINGS_SECRET_KEY="demo-test-secret-" + "z" * 32,
        TIDINGS_PUBLIC_URL="https://notify.shop.example",
        TIDINGS_DATABASE_URL=f"sqlite://{tmp_path / 'prod.sqlite3'}",
        **PRODUCTION_KEYS,
    )
    assert result.returncode == 1
    assert "TIDINGS_ENV=production" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "prod.sqlite3").exists()  # it never opened the database


def test_demo_refuses_a_database_with_customers_of_its_own(tmp_path):
    assert tidings("migrate", cwd=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "tidings.sqlite3") as conn:
        conn.execute(
            "INSERT INTO customers (id, external_id, locale, timezone, tier, attributes, "
            "token_version, created_at, updated_at) VALUES (?, 'real-1', 'en', 'UTC', "
            "'ORDINARY', '{}', 0, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')",
            (str(uuid.uuid4()),),
        )
    result = tidings("demo", cwd=tmp_path)
    assert result.returncode == 1
    assert "already holds customers" in result.stderr
    with sqlite3.connect(tmp_path / "tidings.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (1,)


# serve: a taken port, quiet output --------------------------------------------------------------


def test_serve_on_a_taken_port_says_so_in_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = tidings("serve", "--port", str(port), cwd=tmp_path)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert str(port) in lines[0] and "--port" in lines[0]
    assert "Traceback" not in result.stderr
    # Nothing was started or created for a server that cannot listen.
    assert "Development admin" not in result.stdout
    assert not (tmp_path / "tidings.sqlite3").exists()


def test_commands_do_not_print_the_orm_shutdown_line(tmp_path):
    for args in (("migrate",), ("demo",)):
        result = tidings(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Tortoise-ORM" not in result.stdout + result.stderr, args


def test_serve_does_not_print_the_orm_shutdown_line(tmp_path):
    port = free_port()
    log = open(tmp_path / "serve.log", "w+")
    process = subprocess.Popen(
        [TIDINGS, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while "Application startup complete" not in (tmp_path / "serve.log").read_text():
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "serve never started"
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert "Application shutdown complete" in output
    assert "Tortoise-ORM" not in output


# make run PORT=... ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "host", "port"),
    [
        ((), "127.0.0.1", "8000"),
        (("PORT=8001",), "127.0.0.1", "8001"),
        (("HOST=0.0.0.0", "PORT=9000"), "0.0.0.0", "9000"),
    ],
)
def test_make_run_passes_host_and_port(variables, host, port):
    result = subprocess.run(
        ["make", "--dry-run", "--always-make", "run", *variables],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (serve,) = [line for line in result.stdout.splitlines() if "tidings serve" in line]
    assert f"--host {host}" in serve and f"--port {port}" in serve


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_providers_bad_setting_is_one_line(tmp_path, command):
    """The email provider needs a From address once it has a host: say so, no traceback."""
    args = ("serve", "--port", str(free_port())) if command == "serve" else ("worker",)
    assert tidings("migrate", cwd=tmp_path).returncode == 0
    result = tidings(*args, cwd=tmp_path, TIDINGS_SMTP_HOST="127.0.0.1")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "TIDINGS_SMTP_FROM" in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("tidings:")]
    assert len(errors) == 1, result.stderr
