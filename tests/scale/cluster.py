"""The pieces of the several-machines test (test_kill_restart.py): a stack whose processes all
talk to one local SMS peer, a peer that can hold one worker mid-batch, and a client that
spreads sends over several `serve` processes and retries on another when one dies.

Everything is driven from outside, as an operator's load balancer and process supervisor
would: signals, ports and HTTP, never the service's own code."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.live.procs import SEND, Gql, Proc, Stack, free_port
from tests.providers.peers import Reply, SmsApi

# How long the peer holds a request at most: past it the held worker gets its reply.
HOLD_TIMEOUT = 120.0


class HoldingSmsApi(SmsApi):
    """The SMS peer, holding each request from sender id `held_from` until `release` is set.

    A worker sending under that id is then stuck mid-batch, its claims in hand, for as long as
    the test wants: killed there, it certainly dies holding rows, and the requests it made
    count as sent (a real vendor may well have sent a message it never acknowledged)."""

    def __init__(self, held_from: str) -> None:
        super().__init__()
        self.held_from = held_from
        self.holding = threading.Event()  # a request is being held
        self.release = threading.Event()
        report = self.server.handle_error

        def handle_error(request: Any, address: Any) -> None:
            # Replying to a worker killed while held: its socket is gone, as expected.
            if not isinstance(sys.exc_info()[1], ConnectionError):
                report(request, address)

        self.server.handle_error = handle_error  # type: ignore[method-assign]

    def route(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        reply = super().route(path, headers, raw)  # recorded before it is held
        if not self.release.is_set() and self.sender(raw) == self.held_from:
            self.holding.set()
            self.release.wait(HOLD_TIMEOUT)
        return reply

    @staticmethod
    def sender(raw: bytes) -> str:
        return json.loads(raw).get("from", "")

    def references(self) -> list[str]:
        """The delivery id of every request accepted (one per message sent)."""
        with self.lock:
            return [
                r["json"]["reference"]
                for r in self.requests
                if r["headers"].get("authorization") == f"Bearer {self.api_key}"
            ]


@dataclass
class SmsStack(Stack):
    """A `Stack` whose every process is pointed at one SMS peer."""

    extra: dict[str, str] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        return super().env(**{**self.extra, **extra})

    def start_worker_as(self, tag: str) -> Proc:
        """A `tidings worker` sending under SMS sender id `tag` (so the peer knows who sent)."""
        return self._start(tag, "worker", TIDINGS_SMS_FROM=tag)

    async def start_api(self, name: str) -> Gql:
        """`tidings serve` on a free port, once /healthz answers (a patient wait: on a busy
        machine several processes importing at once take a while)."""
        port = free_port()
        proc = self._start(
            name, "serve", "--host", "127.0.0.1", "--port", str(port), TIDINGS_SMS_FROM=name
        )
        api = Gql(port)
        self.clients.append(api)
        await self.healthy(proc, api)
        return api

    async def restart_api(self, name: str, api: Gql) -> None:
        """Start `name` again with the same arguments (its port too), once /healthz answers."""
        proc = self.proc(name)
        proc.start()
        await self.healthy(proc, api)

    def proc(self, name: str) -> Proc:
        [found] = [p for p in self.procs if p.name == name]
        return found

    def _start(self, name: str, *args: str, **env: str) -> Proc:
        proc = Proc(
            name=name,
            args=[sys.executable, "-m", "tidings.api.cli", *args],
            env=self.env(**env),
            cwd=self.directory,
            log=self.directory / f"{name}.log",
        )
        self.procs.append(proc)
        return proc.start()

    async def healthy(self, proc: Proc, api: Gql) -> None:
        health = api.url.replace("/graphql", "/healthz")
        await until(lambda: self._healthy(proc, health), f"{proc.name} healthy", self.logs)

    async def _healthy(self, proc: Proc, url: str) -> bool:
        if not proc.running:
            raise AssertionError(f"{proc.name} exited at start\n{self.logs()}")
        async with httpx.AsyncClient() as client:
            try:
                return (await client.get(url, timeout=2)).status_code == 200
            except httpx.TransportError:
                return False


@asynccontextmanager
async def open_sms_stack(directory: Path, **extra: str) -> AsyncIterator[SmsStack]:
    """As `tests.live.procs.open_stack`: Redis and a migrated database of the test's own."""
    stack = SmsStack(directory, extra=extra)
    try:
        await asyncio.gather(stack.start_redis(), stack.create_database())
        await stack.create_admin()
        yield stack
    finally:
        try:
            await stack.close()
        finally:
            print(stack.logs())


async def until(
    condition: Callable[[], Any], what: str, logs: Callable[[], str], within: float = 120.0
) -> None:
    """Wait for `condition()` (sync, or returning an awaitable) to be true; fail naming `what`."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {within}s\n{logs()}")
        await asyncio.sleep(0.1)


@dataclass
class Sender:
    """Sends through several `serve` processes in turn, as a load balancer would; a request
    that fails in transport (its serve killed, or not yet back) is retried on the next one
    with the same idempotency key, so a send is made once whatever happened to the first."""

    apis: Sequence[Gql]
    token: str
    done: int = 0
    transport_failures: dict[int, int] = field(default_factory=dict)  # api index -> count

    async def send(self, key: str, to: dict[str, Any], first: int, give_up: float = 60) -> str:
        """The message id of the send `key`, tried first on `apis[first]`."""
        variables = {
            "i": {
                "idempotencyKey": key,
                "category": "otp",
                "to": to,
                "channels": ["sms"],
                "content": {"title": "Code", "body": f"Your code for {key}"},
            }
        }
        deadline = time.monotonic() + give_up
        index = first
        while True:
            api = self.apis[index % len(self.apis)]
            try:
                sent = await api(SEND, variables, self.token)
            except httpx.TransportError:
                failed = index % len(self.apis)
                self.transport_failures[failed] = self.transport_failures.get(failed, 0) + 1
                if time.monotonic() > deadline:
                    raise
                index += 1
                await asyncio.sleep(0.05)
                continue
            self.done += 1
            return sent["send"]["message"]["id"]

    async def run(self, keys_and_customers: Sequence[tuple[str, str]], lanes: int) -> None:
        """One send per (key, customer id), `lanes` at a time, alternating between apis."""
        queue = list(enumerate(keys_and_customers))

        async def lane() -> None:
            while queue:
                n, (key, customer) = queue.pop(0)
                await self.send(key, {"customerId": customer}, first=n)

        await asyncio.gather(*(lane() for _ in range(lanes)))
