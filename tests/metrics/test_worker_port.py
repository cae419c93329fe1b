"""`tidings worker` has no HTTP server: with TIDINGS_METRICS_PORT it serves its metrics on
that port, from the real process, and a scrape that cannot read the database fails loudly."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from tests.delivery.test_workers_pg import worker_env
from tests.live.procs import Proc, free_port
from tests.metrics.support import parse, value

START_TIMEOUT = 60.0


async def wait_for_metrics(proc: Proc, url: str) -> httpx.Response:
    """The first answer from the worker's metrics port (it binds once the worker starts)."""
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(int(START_TIMEOUT / 0.1)):
            assert proc.running, proc.tail()
            try:
                return await client.get(url)
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"no metrics on {url}\n{proc.tail()}")


CLI = [sys.executable, "-m", "tidings.api.cli"]


def migrated_env(tmp_path: Path, port: int) -> dict[str, str]:
    """Settings for a worker on a migrated SQLite database of the test's own."""
    env = worker_env(
        f"sqlite://{tmp_path / 'worker.sqlite3'}",
        TIDINGS_METRICS="on",
        TIDINGS_METRICS_PORT=str(port),
        TIDINGS_METRICS_TOKEN="worker-scrape-token",
    )
    migrated = subprocess.run(
        [*CLI, "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr
    return env


async def test_a_worker_serves_its_metrics_on_its_own_port(tmp_path: Path):
    database = tmp_path / "worker.sqlite3"
    port = free_port()
    env = await asyncio.to_thread(migrated_env, tmp_path, port)
    proc = Proc("worker", [*CLI, "worker"], env, tmp_path, tmp_path / "worker.log").start()
    url = f"http://127.0.0.1:{port}/metrics"
    auth = {"authorization": "Bearer worker-scrape-token"}
    try:
        assert (await wait_for_metrics(proc, url)).status_code == 401
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(url, headers=auth)
            assert response.status_code == 200, response.text
            assert "# TYPE tidings_queue_deliveries gauge" in response.text
            assert "# TYPE tidings_provider_send_duration_seconds histogram" in response.text
            samples = parse(response.text)
            # A worker serves no subscriber: no live figures, no bus probe.
            assert value(samples, "tidings_bus_probe_success") == 0
            assert "tidings_websockets_open" not in response.text

            with sqlite3.connect(database) as conn:  # the rollups gone: the scrape cannot read
                conn.execute("ALTER TABLE stats_days RENAME TO stats_days_away")
            failed = await client.get(url, headers=auth)
            assert failed.status_code == 500
            assert "stats_days" not in failed.text  # no detail to a scraper
            assert proc.running  # one failed scrape does not stop the worker
        proc.terminate()
        assert await asyncio.to_thread(proc.popen.wait, 30) == 0, proc.tail()  # type: ignore[union-attr]
        log = proc.log.read_text()
        assert "the scrape failed (OperationalError)" in log
        assert "worker-scrape-token" not in log
    finally:
        proc.stop()


async def test_a_worker_whose_metrics_port_is_taken_says_so_and_stops(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = await asyncio.to_thread(migrated_env, tmp_path, port)
        done = await asyncio.to_thread(
            subprocess.run,
            [*CLI, "worker"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stderr
    assert f"tidings: cannot serve metrics on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
