"""`tidings worker-health`: fresh heartbeat 0, stale or missing 1, no setting 2 (the real
worker's heartbeat is checked in test_shutdown_worker.py)."""

from __future__ import annotations

import os
import time

import pytest

from tests.api.test_cli import tidings
from tidings.api.heartbeat import HeartbeatError, heartbeat


def test_no_file_means_no_heartbeat():
    assert heartbeat(None) is None


def test_the_heartbeat_touches_its_file(tmp_path):
    path = tmp_path / "beat"
    beat = heartbeat(str(path))
    assert beat is not None
    beat()
    assert path.exists()


def test_worker_health_reads_the_heartbeat(tmp_path):
    path = tmp_path / "beat"
    setting = {"TIDINGS_WORKER_HEARTBEAT_FILE": str(path)}
    missing = tidings("worker-health", cwd=tmp_path, **setting)
    assert missing.returncode == 1 and "not completed a round" in missing.stderr

    path.touch()
    fresh = tidings("worker-health", cwd=tmp_path, **setting)
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.startswith("alive")

    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    stale = tidings("worker-health", "--max-age", "5m", cwd=tmp_path, **setting)
    assert stale.returncode == 1 and "ago" in stale.stderr
    assert tidings("worker-health", "--max-age", "2h", cwd=tmp_path, **setting).returncode == 0


def test_worker_health_without_the_setting_or_with_a_bad_age_is_a_usage_error(tmp_path):
    unset = tidings("worker-health", cwd=tmp_path)
    assert unset.returncode == 2 and "TIDINGS_WORKER_HEARTBEAT_FILE" in unset.stderr
    bad = tidings(
        "worker-health",
        "--max-age",
        "soon",
        cwd=tmp_path,
        TIDINGS_WORKER_HEARTBEAT_FILE=str(tmp_path / "beat"),
    )
    assert bad.returncode == 2 and "--max-age" in bad.stderr


def test_a_heartbeat_file_the_worker_cannot_write_stops_it_at_start(tmp_path):
    with pytest.raises(HeartbeatError):
        heartbeat(str(tmp_path / "no-such-dir" / "beat"))
    with pytest.raises(HeartbeatError):
        heartbeat(str(tmp_path))  # a directory
    result = tidings(
        "worker", cwd=tmp_path, TIDINGS_WORKER_HEARTBEAT_FILE=str(tmp_path / "nope" / "beat")
    )
    assert result.returncode == 2
    assert "TIDINGS_WORKER_HEARTBEAT_FILE" in result.stderr
