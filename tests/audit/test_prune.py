"""Pruning: the oldest entries go, in batches, behind one signed checkpoint; the pruning is
itself recorded; what is left still verifies; the worker prunes at most once an interval."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from tests.audit.tamper import seed, sql
from tests.conftest import SECRET, make_settings
from tidings.api.runtime import audit_pruner, build_runtime
from tidings.api.settings import SettingsError
from tidings.core.audit import record
from tidings.core.audit.checkpoints import CheckpointSigner
from tidings.core.audit.prune import AuditPruner, prune_entries
from tidings.core.audit.verify import verify_chain
from tidings.core.delivery.registry import ProviderRegistry
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.delivery.worker import DeliveryWorker, WorkerOptions
from tidings.core.models import AuditCheckpoint, AuditEntry

RETENTION = timedelta(days=30)


def just_after(at: datetime) -> datetime:
    """A `now` that makes everything up to `at` older than the retention."""
    return at + RETENTION + timedelta(microseconds=1)


async def test_old_entries_go_behind_a_signed_checkpoint(db: str) -> None:
    entries = await seed(6)
    pruned = await prune_entries(SECRET, RETENTION, now=just_after(entries[2].at))
    assert (pruned.count, pruned.through, pruned.done) == (3, 3, True)
    remaining = await AuditEntry.all().order_by("id")
    assert [e.id for e in remaining] == [4, 5, 6, 7]
    checkpoint = await AuditCheckpoint.get()
    assert (checkpoint.entry_id, checkpoint.entry_hash) == (3, entries[2].hash)
    assert CheckpointSigner(SECRET).valid(3, entries[2].hash, checkpoint.signature)
    prune_entry = remaining[-1]
    assert (prune_entry.action, prune_entry.actor_kind) == ("audit.prune", "system")
    assert prune_entry.detail == {"through": 3, "count": 3}
    result = await verify_chain(SECRET)
    assert result.ok and result.count == 4 and result.checkpoint is not None
    assert result.checkpoint.id == checkpoint.id


async def test_batches_leave_one_checkpoint_and_a_record_each(db: str) -> None:
    entries = await seed(7)
    pruned = await prune_entries(SECRET, RETENTION, now=just_after(entries[4].at), batch_size=2)
    assert (pruned.count, pruned.through) == (5, 5)
    checkpoints = await AuditCheckpoint.all()
    assert [(c.entry_id, c.entry_hash) for c in checkpoints] == [(5, entries[4].hash)]
    records = await AuditEntry.filter(action="audit.prune").order_by("id")
    assert [r.detail for r in records] == [
        {"through": 2, "count": 2},
        {"through": 4, "count": 2},
        {"through": 5, "count": 1},
    ]
    assert (await verify_chain(SECRET)).ok


async def test_max_batches_stops_early_and_says_so(db: str) -> None:
    entries = await seed(6)
    now = just_after(entries[-1].at)
    pruned = await prune_entries(SECRET, RETENTION, now=now, batch_size=2, max_batches=2)
    assert (pruned.count, pruned.through, pruned.done) == (4, 4, False)
    rest = await prune_entries(SECRET, RETENTION, now=now, batch_size=2)
    assert rest.done and rest.count >= 1
    assert (await verify_chain(SECRET)).ok


async def test_the_newest_entry_always_stays(db: str) -> None:
    entries = await seed(3)
    future = datetime.now(UTC) + RETENTION * 10
    pruned = await prune_entries(SECRET, RETENTION, now=future)
    assert pruned.count == 2  # entries 1 and 2; 3 is the chain's head and stays
    ids = await AuditEntry.all().order_by("id").values_list("id", flat=True)
    assert ids == [3, 4]  # 4: the audit.prune record, linked to 3
    # Pruning everything again keeps the newest (the last record) as the head.
    await prune_entries(SECRET, RETENTION, now=future)
    await record("after.prune")
    assert (await AuditEntry.all().order_by("-id").first()).id > entries[-1].id
    result = await verify_chain(SECRET)
    assert result.ok and result.checkpoint is not None


async def test_nothing_old_means_nothing_written(db: str) -> None:
    await seed(3)
    pruned = await prune_entries(SECRET, RETENTION)
    assert (pruned.count, pruned.through, pruned.done) == (0, None, True)
    assert await AuditEntry.all().count() == 3
    assert not await AuditCheckpoint.exists()


async def test_an_empty_log_prunes_nothing(db: str) -> None:
    pruned = await prune_entries(SECRET, timedelta(0))
    assert pruned.count == 0 and not await AuditEntry.exists()


async def test_tampering_after_pruning_is_still_caught(db: str) -> None:
    entries = await seed(5)
    await prune_entries(SECRET, RETENTION, now=just_after(entries[1].at))
    # The first entry left, removed: it no longer follows the checkpoint.
    await sql("DELETE FROM audit_entries WHERE id = 3")
    result = await verify_chain(SECRET)
    assert result.broken is not None and result.broken.entry_id == 4
    # The checkpoint removed too: entries 1 to 3 are missing.
    await sql("DELETE FROM audit_checkpoints")
    result = await verify_chain(SECRET)
    assert result.broken is not None and result.broken.reason.startswith("entries 1 to 3")


async def test_the_pruner_runs_a_pass_at_most_once_an_interval(db: str) -> None:
    clock = [1000.0]
    pruner = AuditPruner(SECRET, timedelta(0), clock=lambda: clock[0])
    await seed(3)
    assert await pruner.run_if_due() == 2
    await seed(3)
    assert await pruner.run_if_due() == 0  # within the hour
    clock[0] += 3599
    assert await pruner.run_if_due() == 0
    clock[0] += 1
    assert await pruner.run_if_due() == 4  # 3 new + the last pass's record; the head stays
    assert (await verify_chain(SECRET)).ok


async def test_a_pass_cut_short_goes_on_next_round(db: str) -> None:
    clock = [0.0]
    pruner = AuditPruner(
        SECRET, timedelta(0), batches_per_round=1, batch_size=2, clock=lambda: clock[0]
    )
    await seed(5)
    # Each round one batch, until a batch finds no more old entries; then the interval.
    # (With no retention, each pass's own audit.prune record is old at the next batch.)
    assert [await pruner.run_if_due() for _ in range(5)] == [2, 2, 2, 1, 0]
    assert (await verify_chain(SECRET)).ok


async def test_the_worker_prunes_in_its_rounds(db: str) -> None:
    await seed(4)
    worker = DeliveryWorker(
        ProviderRegistry([]),
        TierPolicies(),
        WorkerOptions(idle_sleep=0.05),
        audit_pruner=AuditPruner(SECRET, timedelta(0)),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(200):
            if await AuditCheckpoint.exists():
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    checkpoint = await AuditCheckpoint.get()
    assert checkpoint.entry_id == 3
    assert (await verify_chain(SECRET)).ok


async def test_a_failed_pass_is_logged_and_waits_for_the_interval(
    db: str, caplog: pytest.LogCaptureFixture
) -> None:
    await seed(3)
    # A checkpoint table that refuses the write: the pass fails, nothing is deleted.
    await sql("DROP TABLE audit_checkpoints")
    clock = [0.0]
    pruner = AuditPruner(SECRET, timedelta(0), clock=lambda: clock[0])
    try:
        with caplog.at_level(logging.ERROR, "tidings.audit"):
            assert await pruner.run_if_due() == 0
        assert "pruning the audit log failed" in caplog.text
        assert await AuditEntry.all().count() == 3
        assert await pruner.run_if_due() == 0  # not retried at once
    finally:
        await sql(
            "CREATE TABLE audit_checkpoints (id INTEGER PRIMARY KEY, entry_id BIGINT NOT NULL, "
            "entry_hash VARCHAR(64) NOT NULL, created_at TIMESTAMP NOT NULL, "
            "signature VARCHAR(64) NOT NULL)"
            if db.startswith("sqlite")
            else "CREATE TABLE audit_checkpoints (id BIGSERIAL PRIMARY KEY, entry_id BIGINT NOT "
            "NULL, entry_hash VARCHAR(64) NOT NULL, created_at TIMESTAMPTZ NOT NULL, "
            "signature VARCHAR(64) NOT NULL)"
        )


def test_the_retention_setting() -> None:
    assert make_settings("sqlite://x").audit_retention_days is None
    settings = make_settings("sqlite://x", TIDINGS_AUDIT_RETENTION_DAYS="400")
    assert settings.audit_retention_days == 400
    pruner = audit_pruner(settings)
    assert pruner is not None and pruner.retention == timedelta(days=400)
    assert audit_pruner(make_settings("sqlite://x")) is None
    for bad in ("0", "-3", "a year"):
        with pytest.raises(SettingsError, match="TIDINGS_AUDIT_RETENTION_DAYS"):
            make_settings("sqlite://x", TIDINGS_AUDIT_RETENTION_DAYS=bad)


def test_the_runtime_gives_the_worker_its_pruner() -> None:
    runtime = build_runtime(make_settings("sqlite://x", TIDINGS_AUDIT_RETENTION_DAYS="90"))
    try:
        assert runtime.worker.audit_pruner.retention == timedelta(days=90)
    finally:
        runtime.templates.close()
