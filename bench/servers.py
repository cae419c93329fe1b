"""Servers under test run in their own process, so the client does not measure itself."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


class ServerError(RuntimeError):
    """A server under test did not start, or died."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_environ(extra: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment without its TIDINGS_* settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def running(
    name: str, argv: Sequence[str], env: Mapping[str, str], port: int, start_within: float = 30.0
) -> AsyncIterator[str]:
    """Start `argv` in a scratch working directory (no stray `.env`), wait for /healthz, yield
    the base URL; stop it on exit. Its output goes to a file shown only when it fails."""
    with tempfile.TemporaryDirectory(prefix="tidings-bench-") as workdir:
        log_path = Path(workdir) / "server.log"
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=workdir,
                env=_clean_environ(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            await _wait_healthy(name, process, base, log_path, start_within)
            yield base
            if process.returncode is not None:
                raise ServerError(f"{name} exited during the benchmark:\n{_tail(log_path)}")
        finally:
            await _stop(process)


async def _wait_healthy(
    name: str,
    process: asyncio.subprocess.Process,
    base: str,
    log_path: Path,
    start_within: float,
) -> None:
    deadline = time.monotonic() + start_within
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise ServerError(
                    f"{name} exited with {process.returncode} at start:\n{_tail(log_path)}"
                )
            try:
                response = await client.get(f"{base}/healthz", timeout=2)
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise ServerError(
        f"{name} did not answer /healthz within {start_within:.0f} s:\n{_tail(log_path)}"
    )


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def tidings_argv(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tidings.api.cli",
        "serve",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


def baseline_argv(port: int) -> list[str]:
    return [sys.executable, "-m", "bench.baseline_server", str(port)]
