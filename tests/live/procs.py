"""Real processes for the live tests: a Redis server of the test's own, a PostgreSQL
database of its own (migrated with `tidings migrate`), `tidings serve` and `tidings worker`.

Every process writes to a log file in the test's directory; `Stack.logs()` gathers their
tails, and the `stack` fixtures print them at teardown, so a failing test shows what each
process said. Everything started here is stopped by `Stack.close()`, whatever happened.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import create_pg_database, drop_pg_database, pg_url
from tests.delivery.test_workers_pg import worker_env
from tests.live.ws import LiveClient

ADMIN_EMAIL = "live-admin@example.com"
ADMIN_PASSWORD = "live-tests-admin-password"
START_TIMEOUT = 120.0  # a busy machine took over 30 s to start one
LOG_TAIL = 4000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Proc:
    """One subprocess and the file its output goes to."""

    name: str
    args: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    popen: subprocess.Popen | None = None
    terminating: bool = False

    def start(self) -> Proc:
        self.terminating = False
        with open(self.log, "a") as out:  # the child keeps its own descriptor
            out.write(f"--- start {' '.join(self.args[-4:])} at {time.strftime('%X')}\n")
            out.flush()
            self.popen = subprocess.Popen(
                self.args, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def terminate(self) -> None:
        """SIGTERM once (a second one would cut a graceful shutdown short)."""
        if self.running and not self.terminating:
            assert self.popen is not None
            self.popen.send_signal(signal.SIGTERM)
            self.terminating = True

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; the exit code (None when it had to be killed)."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.terminate()
            try:
                return self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
                return None
        return self.popen.returncode

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        code = self.popen.poll() if self.popen is not None else "not started"
        return f"===== {self.name} (exit: {code}) {self.log.name}\n{text[-LOG_TAIL:]}"


class Gql:
    """GraphQL over HTTP against one `tidings serve`."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/graphql"
        self.ws_url = f"ws://127.0.0.1:{port}/graphql"
        self.client = httpx.AsyncClient(timeout=15)

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The `data` of a result that must have no errors (top-level or payload)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            self.url, json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, f"{self.url}: {response.status_code} {response.text}"
        result = response.json()
        assert not result.get("errors"), f"{query.strip()[:80]}: {result['errors']}"
        for name, payload in (result.get("data") or {}).items():
            if isinstance(payload, dict) and "errors" in payload:
                assert payload["errors"] == [], f"{name}: {payload['errors']}"
        return result["data"]


@dataclass
class Stack:
    """The processes of one test, over one PostgreSQL database and one Redis server."""

    directory: Path
    database_url: str = ""
    redis_port: int = 0
    procs: list[Proc] = field(default_factory=list)
    clients: list[Gql] = field(default_factory=list)
    _redis: Proc | None = None

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def env(self, **extra: str) -> dict[str, str]:
        return worker_env(
            self.database_url,
            TIDINGS_REDIS_URL=self.redis_url,
            TIDINGS_IN_PROCESS_WORKER="false",
            TIDINGS_ENV="development",
            **extra,
        )

    def _proc(self, name: str, *args: str, env: dict[str, str] | None = None) -> Proc:
        proc = Proc(
            name=name,
            args=[sys.executable, "-m", "tidings.api.cli", *args],
            env=self.env(**(env or {})),
            cwd=self.directory,
            log=self.directory / f"{name}.log",
        )
        self.procs.append(proc)
        return proc

    # Redis --------------------------------------------------------------------------------

    async def start_redis(self) -> None:
        """Start (or restart, on the same port) the test's own Redis and wait for PONG."""
        if not self.redis_port:
            self.redis_port = free_port()
        if self._redis is None:
            self._redis = Proc(
                name="redis",
                args=[
                    shutil.which("redis-server") or "redis-server",
                    "--port",
                    str(self.redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                env={},
                cwd=self.directory,
                log=self.directory / "redis.log",
            )
            self.procs.append(self._redis)
        self._redis.start()
        deadline = time.monotonic() + 10
        while not await self._redis_answers():
            if not self._redis.running:
                raise AssertionError(f"redis-server exited\n{self._redis.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not answer\n{self._redis.tail()}")
            await asyncio.sleep(0.05)

    def kill_redis(self) -> None:
        assert self._redis is not None
        self._redis.kill()

    async def _redis_answers(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.redis_port)
        except OSError:
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            return (await asyncio.wait_for(reader.readline(), 1)).startswith(b"+PONG")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()

    # PostgreSQL ---------------------------------------------------------------------------

    async def create_database(self) -> None:
        self.database_url = pg_url(await create_pg_database())
        await self.run_cli("migrate", "migrate")

    async def drop_database(self) -> None:
        if self.database_url:
            await drop_pg_database(self.database_url.rsplit("/", 1)[1])

    async def run_cli(self, name: str, *args: str) -> str:
        """Run a `tidings` command to completion; its output, which must end in success."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tidings.api.cli",
            *args,
            env=self.env(),
            cwd=self.directory,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 120)
        text = output.decode(errors="replace")
        (self.directory / f"{name}.log").write_text(text)
        assert process.returncode == 0, (
            f"tidings {' '.join(args)}: exit {process.returncode}\n{text}"
        )
        return text

    # Tidings ------------------------------------------------------------------------------

    def start_worker(self, name: str = "worker") -> Proc:
        return self._proc(name, "worker").start()

    async def start_api(self, name: str, **env: str) -> Gql:
        """`tidings serve` on a free port (`env`: settings of its own), once /healthz answers
        200."""
        port = free_port()
        args = ("serve", "--host", "127.0.0.1", "--port", str(port))
        proc = self._proc(name, *args, env=env).start()
        gql = Gql(port)
        self.clients.append(gql)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if not proc.running:
                raise AssertionError(f"{name} exited before it was ready\n{self.logs()}")
            try:
                response = await gql.client.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                if response.status_code == 200:
                    return gql
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} not healthy in {START_TIMEOUT}s\n{self.logs()}")
            await asyncio.sleep(0.1)

    async def wait_started(self, proc: Proc, line: str) -> None:
        """Until `line` appears in the process's log (a worker's "delivering")."""
        deadline = time.monotonic() + START_TIMEOUT
        while line not in proc.log.read_text(errors="replace"):
            if not proc.running:
                raise AssertionError(f"{proc.name} exited before it was ready\n{self.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{proc.name} not ready in {START_TIMEOUT}s\n{self.logs()}")
            await asyncio.sleep(0.1)

    async def create_admin(self) -> None:
        """An admin made with `tidings create-staff`, before any `serve` starts: with a staff
        member in the database, no `serve` makes a development admin of its own."""
        await self.run_cli(
            "create-staff",
            "create-staff",
            "--email",
            ADMIN_EMAIL,
            "--password",
            ADMIN_PASSWORD,
            "--role",
            "admin",
        )

    async def admin_token(self, api: Gql) -> str:
        found = await api(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p)"
            " { token errors { code field message } } }",
            {"e": ADMIN_EMAIL, "p": ADMIN_PASSWORD},
        )
        return found["login"]["token"]

    def assert_running(self) -> None:
        dead = [p.name for p in self.procs if p.popen is not None and not p.running]
        dead = [name for name in dead if name != "redis"]
        assert not dead, f"exited early: {dead}\n{self.logs()}"

    def logs(self) -> str:
        return "\n".join(proc.tail() for proc in self.procs)

    async def close(self) -> None:
        for client in self.clients:
            await client.client.aclose()
        tidings = [proc for proc in self.procs if proc is not self._redis]
        for proc in tidings:
            proc.terminate()
        for proc in [*tidings, *([self._redis] if self._redis else [])]:
            proc.stop()
        await self.drop_database()


@asynccontextmanager
async def open_stack(directory: Path) -> AsyncIterator[Stack]:
    """A Redis server and a migrated database of the test's own; prints every process's log
    at the end (pytest shows it when the test failed)."""
    stack = Stack(directory)
    try:
        await asyncio.gather(stack.start_redis(), stack.create_database())
        await stack.create_admin()
        yield stack
    finally:
        try:
            await stack.close()
        finally:
            print(stack.logs())


# The tidings side of the tests ----------------------------------------------------------

NOTIFICATIONS = "subscription { notifications { id title body category createdAt readAt } }"
INBOX_UPDATES = "subscription { inboxUpdates { unreadCount readIds archivedIds } }"
INBOX = """
query($n: Int!) { inbox(first: $n) { edges { node { id title createdAt readAt } } } }
"""
SEND = """
mutation($i: SendInput!) { send(input: $i) { message { id status } errors { code field message } } }
"""


async def create_category(api: Gql, admin: str, key: str, kind: str = "MARKETING") -> None:
    await api(
        "mutation($i: CreateCategoryInput!) { createCategory(input: $i)"
        " { category { key } errors { code field message } } }",
        {"i": {"key": key, "name": key.title(), "kind": kind, "defaultChannels": ["in_app"]}},
        admin,
    )


async def in_app_customer(
    api: Gql, admin: str, external_id: str, category: str, *, grant: bool = True
) -> tuple[str, str]:
    """A HIGH_VALUE customer (realtime, no digest), who granted in-app for `category` unless
    `grant=False`: its id and a customer token."""
    created = await api(
        "mutation($i: CreateCustomerInput!) { createCustomer(input: $i)"
        " { customer { id } errors { code field message } } }",
        {"i": {"externalId": external_id, "name": external_id.title(), "tier": "HIGH_VALUE"}},
        admin,
    )
    customer_id = created["createCustomer"]["customer"]["id"]
    if grant:
        await api(
            "mutation($i: GrantPermissionInput!) { grantPermission(input: $i)"
            " { errors { code field message } } }",
            {
                "i": {
                    "customerId": customer_id,
                    "channel": "in_app",
                    "category": category,
                    "source": "test",
                }
            },
            admin,
        )
    issued = await api(
        "mutation($c: ID!) { issueCustomerToken(customerId: $c)"
        " { token errors { code field message } } }",
        {"c": customer_id},
        admin,
    )
    return customer_id, issued["issueCustomerToken"]["token"]


async def send_in_app(
    api: Gql, admin: str, customer_id: str, category: str, title: str, body: str = "body"
) -> str:
    sent = await api(
        SEND,
        {
            "i": {
                "idempotencyKey": f"{title}-{secrets.token_hex(4)}",
                "category": category,
                "to": {"customerId": customer_id},
                "channels": ["in_app"],
                "content": {"title": title, "body": body},
            }
        },
        admin,
    )
    return sent["send"]["message"]["id"]


async def notifications(
    client: LiveClient, op_id: str, count: int, within: float, why: str
) -> list[dict[str, Any]]:
    """The next `count` notifications on a `notifications` subscription, within `within`
    seconds in all; fails naming `why` and what did arrive."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    while len(got) < count:
        left = deadline - time.monotonic()
        try:
            payload = await client.next(op_id, timeout=max(left, 0.01))
        except TimeoutError:
            raise AssertionError(
                f"{why}: {len(got)} of {count} notifications in {within}s: "
                f"{[n['title'] for n in got]}"
            ) from None
        assert not payload.get("errors"), f"{why}: {payload['errors']}"
        got.append(payload["data"]["notifications"])
    return got


async def inbox(api: Gql, token: str, first: int = 10) -> list[dict[str, Any]]:
    found = await api(INBOX, {"n": first}, token)
    return [edge["node"] for edge in found["inbox"]["edges"]]
