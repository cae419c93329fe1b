"""`tidings audit verify|prune`, run for real against the test database in a subprocess."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from tests.audit.tamper import seed, seed_old, sql
from tests.conftest import SECRET
from tidings.api.stats_cli import Progress
from tidings.core.audit.checkpoints import CheckpointSigner
from tidings.core.models import AuditCheckpoint, AuditEntry

TIDINGS = shutil.which("tidings", path=str(Path(sys.executable).parent))


async def tidings(db: str, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    assert TIDINGS is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update({"TIDINGS_DATABASE_URL": db, "TIDINGS_SECRET_KEY": SECRET, **settings})
    return await asyncio.to_thread(
        subprocess.run,
        [TIDINGS, "audit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_verify_passes_then_names_the_changed_entry(db: str) -> None:
    entries = await seed(4)
    done = await tidings(db, "verify")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "4 entries verified, from the start",
        f"last entry 4, hash {entries[-1].hash}",
    ]
    assert "4 / 4 entries" in done.stderr  # the progress line (not a terminal: per tenth)
    await sql("""UPDATE audit_entries SET detail = '{"fields":["name"]}' WHERE id = 2""")
    broken = await tidings(db, "verify")
    assert broken.returncode == 1
    assert "the audit chain is broken at entry 2: its hash does not match" in broken.stderr
    assert "1 entries before it verified" in broken.stderr


async def test_verify_names_a_removed_entry(db: str) -> None:
    await seed(5)
    await sql("DELETE FROM audit_entries WHERE id = 3")
    broken = await tidings(db, "verify")
    assert broken.returncode == 1
    assert "broken at entry 4: entry 3 is missing (removed)" in broken.stderr


async def test_prune_then_verify_from_the_checkpoint(db: str) -> None:
    old = await seed_old(4, timedelta(days=40))
    await seed(2)
    refused = await tidings(db, "prune")
    assert refused.returncode == 2
    assert "TIDINGS_AUDIT_RETENTION_DAYS is not set" in refused.stderr
    assert await AuditEntry.all().count() == 6
    nothing = await tidings(db, "prune", TIDINGS_AUDIT_RETENTION_DAYS="60")
    assert (nothing.returncode, nothing.stdout) == (0, "no entries older than 60 days\n")
    assert (await tidings(db, "prune", "--days", "0")).returncode == 2  # a positive number
    pruned = await tidings(db, "prune", TIDINGS_AUDIT_RETENTION_DAYS="30")
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.splitlines() == [
        "pruned 4 entries older than 30 days",
        "through entry 4",
    ]
    checkpoint = await AuditCheckpoint.get()
    assert (checkpoint.entry_id, checkpoint.entry_hash) == (4, old[3].hash)
    verify = await tidings(db, "verify")
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.startswith(
        f"3 entries verified, from checkpoint {checkpoint.id} (after entry 4)"
    )  # the 2 left and the audit.prune record
    # A checkpoint whose signature was tampered with fails verify.
    await sql(f"UPDATE audit_checkpoints SET signature = '{'f' * 64}' WHERE id = {checkpoint.id}")
    forged = await tidings(db, "verify")
    assert forged.returncode == 1
    assert f"broken at checkpoint {checkpoint.id}: its signature is not valid" in forged.stderr
    # Verifying under another secret key: every checkpoint looks forged.
    await sql("DELETE FROM audit_checkpoints")
    await AuditCheckpoint.create(
        entry_id=4, entry_hash=old[3].hash, signature=CheckpointSigner(SECRET).sign(4, old[3].hash)
    )
    assert (await tidings(db, "verify")).returncode == 0
    other = await tidings(db, "verify", TIDINGS_SECRET_KEY="other-secret-" + "q" * 32)
    assert other.returncode == 1 and "signature is not valid" in other.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_redraws_in_place_on_a_terminal() -> None:
    out = Terminal()
    progress = Progress(out, unit="entries")
    progress(2000, 4000)
    progress(4000, 4000)
    progress.end()
    frames = out.getvalue().split("\r")[1:]
    assert len(frames) == 2 and frames[-1].endswith("\n")
    assert " 50.0%  2,000 / 4,000 entries" in frames[0]
    assert "100.0%  4,000 / 4,000 entries" in frames[1]
