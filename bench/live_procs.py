"""The live benchmark's processes: the server under test (its PID kept, to read its RSS and CPU
time from /proc) and the pool of client processes that hold the sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import servers
from bench.customers_page import BenchmarkError

CLIENT_ANSWER_TIMEOUT = 900.0
# Log lines that mean the server under test had trouble.
TROUBLE = ("Traceback", "ERROR", "Exception", "CRITICAL")


@dataclass
class Server:
    name: str
    base: str
    pid: int
    log_path: Path

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://", 1) + "/graphql"

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise BenchmarkError(f"{self.name}: no VmRSS for PID {self.pid}")

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def settle(self, quiet: float = 1.0, limit: float = 120.0) -> float:
        """Wait until the server has used under 5% of a CPU for `quiet` seconds (it has
        finished registering subscribers, or delivering); returns the seconds waited."""
        started = time.monotonic()
        samples: list[tuple[float, float]] = []
        while time.monotonic() - started < limit:
            now = time.monotonic()
            samples.append((now, self.cpu_seconds()))
            window = [s for s in samples if s[0] >= now - quiet]
            if now - samples[0][0] >= quiet and window[-1][1] - window[0][1] < 0.05 * quiet:
                return now - started
            await asyncio.sleep(0.1)
        return limit

    def trouble(self) -> list[str]:
        """The server log's error lines, each traceback given as its exception line."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        found: list[str] = []
        in_traceback = False
        for line in lines:
            if line.startswith("Traceback"):
                in_traceback = True
            elif in_traceback and line and not line[0].isspace():
                if not line.startswith(("During handling", "The above exception")):
                    found.append(f"raised {line.strip()}")
                    in_traceback = False
            elif any(word in line for word in TROUBLE):
                found.append(line.strip())
        return found

    def log_tail(self, lines: int = 40) -> str:
        return servers._tail(self.log_path, lines)


@contextlib.asynccontextmanager
async def server(
    name: str, module_argv: Sequence[str], env: Mapping[str, str], port: int
) -> AsyncIterator[Server]:
    """`python -m bench.live_launch MODULE ARGS` (open-file limit raised) in a scratch working
    directory; waits for /healthz; stopped on exit. The log is kept for `trouble()`."""
    with tempfile.TemporaryDirectory(prefix="tidings-live-") as workdir:
        log_path = Path(workdir) / "server.log"
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.live_launch",
                *module_argv,
                cwd=workdir,
                env=servers._clean_environ({**env, "PYTHONPATH": str(servers.REPO)}),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            await servers._wait_healthy(name, process, base, log_path, 60.0)
            yield Server(name, base, process.pid, log_path)
            if process.returncode is not None:
                raise BenchmarkError(f"{name} exited during the benchmark:\n{_tail(log_path)}")
        finally:
            await servers._stop(process)


def _tail(path: Path) -> str:
    return servers._tail(path, 40)


class ClientPool:
    """N client processes (`bench.live_clients`); each command goes to all and returns every
    answer. Their stderr goes to a file shown when one fails."""

    def __init__(self, processes: list[asyncio.subprocess.Process], log_path: Path) -> None:
        self.processes = processes
        self.log_path = log_path

    @classmethod
    @contextlib.asynccontextmanager
    async def started(cls, count: int) -> AsyncIterator[ClientPool]:
        with tempfile.TemporaryDirectory(prefix="tidings-live-clients-") as workdir:
            log_path = Path(workdir) / "clients.log"
            with log_path.open("wb") as log:
                processes = [
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "bench.live_clients",
                        cwd=str(servers.REPO),
                        env={**os.environ, "PYTHONPATH": str(servers.REPO)},
                        stdin=asyncio.subprocess.PIPE,
                        stdout=asyncio.subprocess.PIPE,
                        stderr=log,
                        limit=16 * 1024 * 1024,
                    )
                    for _ in range(count)
                ]
            pool = cls(processes, log_path)
            try:
                yield pool
            finally:
                await pool.stop()

    async def _ask(self, process: asyncio.subprocess.Process, command: dict[str, Any]) -> dict:
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(command).encode() + b"\n")
            await process.stdin.drain()
            line = await asyncio.wait_for(process.stdout.readline(), CLIENT_ANSWER_TIMEOUT)
        except (BrokenPipeError, ConnectionResetError):
            line = b""
        except TimeoutError:
            raise BenchmarkError(
                f"a live client process gave no answer to {command['cmd']!r} within "
                f"{CLIENT_ANSWER_TIMEOUT:.0f} s:\n{_tail(self.log_path)}"
            ) from None
        if not line:
            raise BenchmarkError(
                f"a live client process died ({command['cmd']}):\n{_tail(self.log_path)}"
            )
        return json.loads(line)

    async def each(self, commands: Sequence[dict[str, Any]]) -> list[dict]:
        """One command per process, in order; all at once."""
        return list(await asyncio.gather(*map(self._ask, self.processes, commands)))

    async def all(self, command: dict[str, Any]) -> list[dict]:
        return await self.each([command] * len(self.processes))

    async def connect(
        self,
        url: str,
        tokens: Sequence[str | None],
        query: str,
        wave: int,
        deflate: bool,
        stall: float = 120.0,
    ) -> list[dict]:
        """Tokens dealt out evenly, one socket per token."""
        n = len(self.processes)
        shares = [list(tokens[i::n]) for i in range(n)]
        commands = [
            {
                "cmd": "connect",
                "url": url,
                "tokens": share,
                "query": query,
                "wave": wave,
                "deflate": deflate,
                "stall": stall,
            }
            for share in shares
        ]
        return await self.each(commands)

    async def stop(self) -> None:
        for process in self.processes:
            if process.returncode is None and process.stdin is not None:
                with contextlib.suppress(Exception):
                    process.stdin.write(b'{"cmd": "exit"}\n')
                    await process.stdin.drain()
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
