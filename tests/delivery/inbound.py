"""`tidings inbound-smtp` as a real subprocess against the test's database, and mail sent to
it as an MTA sends a report (aiosmtplib, from the null sender)."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import subprocess
import threading
from pathlib import Path

import aiosmtplib

from tests.api.test_cli import TIDINGS, clean_env, free_port
from tests.conftest import BLIND_INDEX_KEY, DATA_KEYS, SECRET


class InboundProcess:
    """`tidings inbound-smtp` on a free port, against the test's database."""

    def __init__(self, cwd: Path, database_url: str, **settings: str) -> None:
        assert TIDINGS is not None
        self.port = free_port()
        self.stderr_path = cwd / "inbound.log"
        self.stderr = open(self.stderr_path, "w")
        env = clean_env(
            TIDINGS_DATABASE_URL=database_url,
            TIDINGS_SECRET_KEY=SECRET,
            # The test's keyring: the process reads customers the test wrote.
            TIDINGS_DATA_KEYS=DATA_KEYS,
            TIDINGS_BLIND_INDEX_KEY=BLIND_INDEX_KEY,
            **settings,
        )
        self.process = subprocess.Popen(
            [TIDINGS, "inbound-smtp", "--port", str(self.port)],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self.log = ""
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_ready(self) -> None:
        while True:
            line = self.lines.get(timeout=60)
            if line is None:
                raise AssertionError(f"inbound-smtp ended: {self.stderr_path.read_text()}")
            if "inbound SMTP on" in line:
                return

    def stop(self) -> str:
        """Stop it (it must exit cleanly) and give its log."""
        self.process.terminate()
        try:
            assert self.process.wait(timeout=15) == 0
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.stderr.close()
        return self.stderr_path.read_text()


@contextlib.asynccontextmanager
async def inbound_smtp(cwd: Path, database_url: str, **settings: str):
    """A started `tidings inbound-smtp`, stopped on the way out (its log is `.log`)."""
    process = InboundProcess(cwd, database_url, **settings)
    try:
        await asyncio.to_thread(process.wait_ready)
        yield process
    finally:
        if process.process.poll() is None:
            process.log = process.stop()


async def mail_to(
    port: int, raw: bytes, recipient: str, sender: str = ""
) -> aiosmtplib.SMTPResponse:
    """Deliver `raw` as an MTA returns a report: from the null sender `<>` by default."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=30) as c:
        await c.mail(sender)
        await c.rcpt(recipient)
        return await c.data(raw)
