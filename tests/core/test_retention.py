"""Retention: old final deliveries, their events and notifications are pruned in batches, the
delivery stats stay exactly as they were (a rebuild too), and the worker prunes at most once
an hour."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import Api, make_settings
from tests.sql_statements import statement_log
from tidings.api.settings import SettingsError
from tidings.core.enums import DeliveryStatus, StatsDimension
from tidings.core.models import (
    AuditEntry,
    Customer,
    Delivery,
    DeliveryEvent,
    Message,
    Notification,
)
from tidings.core.services.retention import DataUpkeep, prune
from tidings.core.stats.fold import fold_all
from tidings.core.stats.query import delivery_stats
from tidings.core.stats.rebuild import rebuild_stats
from tidings.core.stats.rows import DeliveryStatsQuery

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=2)
QUERIES = [
    DeliveryStatsQuery(
        start=(NOW - timedelta(days=200)).replace(minute=0, second=0, microsecond=0),
        end=(NOW + timedelta(days=10)).replace(minute=0, second=0, microsecond=0),
        group_by=dims,
    )
    for dims in (
        (StatsDimension.CATEGORY, StatsDimension.CHANNEL, StatsDimension.TIER),
        (StatsDimension.DAY, StatsDimension.REASON),
        (StatsDimension.MESSAGE,),
    )
]
STATUSES = [
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.FAILED,
    DeliveryStatus.BOUNCED,
    DeliveryStatus.SUPPRESSED,
]


def receipts(channel: str) -> bool:
    return channel == "email"


async def stats() -> list:
    return [await delivery_stats(q, receipts) for q in QUERIES]


async def history(old: int, recent: int) -> Customer:
    """`old` final deliveries 40 days old (with an event and a notification each), `recent`
    two days old, and two old ones still QUEUED and DEFERRED."""
    customer = await Customer.create(external_id=f"c-{secrets.token_hex(3)}")
    message = await Message.create(
        category="offers", status="EXPANDED", idempotency_scope="t",
        idempotency_key=secrets.token_hex(4), request_hash="-", audience={}, created_by="t",
    )  # fmt: skip
    plan = [(OLD, STATUSES[n % len(STATUSES)]) for n in range(old)]
    plan += [(RECENT, STATUSES[n % len(STATUSES)]) for n in range(recent)]
    plan += [(OLD, DeliveryStatus.QUEUED), (OLD, DeliveryStatus.DEFERRED)]
    for n, (when, status) in enumerate(plan):
        row = await Delivery.create(
            message=message,
            customer=customer,
            channel=("email", "sms")[n % 2],
            status=status,
            reason="REJECTED" if status is DeliveryStatus.FAILED else None,
            tier=("ORDINARY", "HIGH_VALUE")[n % 2],
            opened_at=when if n % 3 == 0 else None,
            clicked_at=when if n % 6 == 0 else None,
            converted_at=when if n % 4 == 0 else None,
            revenue=Decimal("9.99") if n % 4 == 0 else None,
        )
        await Delivery.filter(id=row.id).update(created_at=when)
        await DeliveryEvent.create(
            delivery=row, kind="DELIVERED", at=when, provider="p", fingerprint=secrets.token_hex(8)
        )
        note = await Notification.create(
            customer=customer, delivery_id=row.id, category="offers", title="t", body="b"
        )
        await Notification.filter(id=note.id).update(created_at=when)
    return customer


async def test_pruning_deletes_what_is_old_and_leaves_the_stats_as_they_were(db: str):
    await history(old=12, recent=5)
    await fold_all()
    before = await stats()
    assert all(before) and len(before[1]) >= 2  # old and recent days, each counted
    result = await prune(30, batch=5)
    assert (result.deliveries, result.delivery_events, result.notifications) == (12, 12, 14)
    # Recent rows stay, and old ones still waiting to be sent.
    left = await Delivery.all().values_list("status", flat=True)
    assert len(left) == 7
    assert {DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED} <= {DeliveryStatus(s) for s in left}
    assert await DeliveryEvent.all().count() == 7
    assert await Notification.filter(created_at__lt=NOW - timedelta(days=30)).count() == 0
    assert await Notification.all().count() == 5
    assert await stats() == before
    await fold_all()
    assert await stats() == before
    # A rebuild from the deliveries left adds back what was pruned.
    assert await rebuild_stats() == 7
    assert await stats() == before
    entry = await AuditEntry.get(action="retention.prune")
    assert entry.actor_kind == "system"
    assert entry.detail["deliveries"] == 12 and entry.detail["notifications"] == 14
    # Nothing more to prune: nothing recorded.
    assert (await prune(30)).total == 0
    assert await AuditEntry.filter(action="retention.prune").count() == 1


async def test_unfolded_deltas_are_kept_too(db: str):
    await history(old=6, recent=2)
    before = await stats()  # read from the deltas, never folded
    await prune(30)
    assert await stats() == before
    await fold_all()
    assert await stats() == before


async def test_a_batch_is_a_few_statements_whatever_its_size(db: str):
    await history(old=30, recent=0)
    # A first prune, uncounted: its audit entry settles the audit log's guess of its tail,
    # which saves a later entry a statement (core/audit/log.py) whatever the batch size.
    await prune(30, batch=1, max_batches=1)
    counts = []
    for batch in (3, 25):
        with statement_log() as log:
            await prune(30, batch=batch, max_batches=1)
        counts.append(len(log.statements))
    assert counts[0] == counts[1], counts
    assert await Delivery.all().count() == 30 - 1 - 3 - 25 + 2


async def test_the_worker_prunes_at_most_once_an_hour(api: Api):
    await history(old=3, recent=1)
    upkeep = DataUpkeep(api.runtime.services.erasure, 30)
    assert await upkeep.run_once(NOW) > 0
    assert await Delivery.all().count() == 3
    await history(old=2, recent=0)
    assert await upkeep.run_once(NOW + timedelta(minutes=59)) == 0
    assert await Delivery.all().count() == 7
    assert await upkeep.run_once(NOW + timedelta(minutes=61)) > 0
    assert await Delivery.all().count() == 5
    # Unset: nothing is pruned.
    await history(old=2, recent=0)
    assert await DataUpkeep(api.runtime.services.erasure, None).run_once(NOW) == 0
    assert await Delivery.all().count() == 9


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TIDINGS_RETENTION_DAYS", "0", "must be positive"),
        ("TIDINGS_RETENTION_DAYS", "soon", "must be an integer"),
        ("TIDINGS_ERASURE_GRACE_DAYS", "-1", "must be 0 or more"),
        ("TIDINGS_ERASURE_GRACE_DAYS", "1.5", "whole number of days"),
    ],
)
def test_bad_settings_are_refused(name: str, value: str, message: str):
    with pytest.raises(SettingsError, match=message):
        make_settings("sqlite://x.sqlite3", **{name: value})


def test_settings_default_to_keep_and_at_once():
    settings = make_settings("sqlite://x.sqlite3")
    assert (settings.retention_days, settings.erasure_grace_days) == (None, 0)
    settings = make_settings(
        "sqlite://x.sqlite3", TIDINGS_RETENTION_DAYS="90", TIDINGS_ERASURE_GRACE_DAYS="14"
    )
    assert (settings.retention_days, settings.erasure_grace_days) == (90, 14)


def run_cli(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(
        TIDINGS_DATABASE_URL=f"sqlite://{tmp_path / 'cli.sqlite3'}",
        TIDINGS_SECRET_KEY="k" * 40,
        **settings,
    )
    return subprocess.run(
        [sys.executable, "-m", "tidings.api.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_prunes_and_says_what(tmp_path: Path):
    migrated = run_cli(tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    unset = run_cli(tmp_path, "retention", "prune")
    assert unset.returncode == 2
    assert "TIDINGS_RETENTION_DAYS is unset" in unset.stderr
    done = run_cli(tmp_path, "retention", "prune", TIDINGS_RETENTION_DAYS="30")
    assert done.returncode == 0, done.stderr
    assert "pruned 0 deliveries, 0 delivery events and 0 notifications older than 30 days" in (
        done.stdout
    )
    bad = run_cli(tmp_path, "retention", "prune", "--days", "0")
    assert bad.returncode == 2 and "positive" in bad.stderr
