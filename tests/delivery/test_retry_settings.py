"""The retry budget's settings reach the worker: TIDINGS_DELIVERY_RETRY_FOR as a duration, and
TIDINGS_DELIVERY_MAX_ATTEMPTS, deprecated, still honoured as a cap when a deployment sets it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tidings.api.app import create_app
from tidings.api.settings import Settings, SettingsError

SECRET = "retry-settings-secret-" + "s" * 32


def load(tmp_path: Path, **environ: str) -> Settings:
    return Settings.load({"TIDINGS_SECRET_KEY": SECRET, **environ}, env_file=None, workdir=tmp_path)


def test_defaults_are_a_day_and_no_attempt_cap(tmp_path):
    settings = load(tmp_path)
    assert (settings.delivery_retry_for, settings.delivery_max_attempts) == (86400, None)


@pytest.mark.parametrize(("raw", "seconds"), [("3d", 259200), ("90m", 5400), ("7200", 7200)])
def test_the_budget_is_a_duration(tmp_path, raw, seconds):
    assert load(tmp_path, TIDINGS_DELIVERY_RETRY_FOR=raw).delivery_retry_for == seconds


@pytest.mark.parametrize(
    ("name", "raw"),
    [("TIDINGS_DELIVERY_RETRY_FOR", "6 attempts"), ("TIDINGS_DELIVERY_MAX_ATTEMPTS", "0")],
)
def test_bad_values_are_refused_naming_the_setting(tmp_path, name, raw):
    with pytest.raises(SettingsError, match=name):
        load(tmp_path, **{name: raw})


async def test_the_worker_gets_both(db):
    settings = make_settings(
        db,
        TIDINGS_IN_PROCESS_WORKER="false",
        TIDINGS_DELIVERY_RETRY_FOR="2d",
        TIDINGS_DELIVERY_MAX_ATTEMPTS="6",
    )
    retry = create_app(settings, manage_database=False).state.runtime.worker.options.retry
    assert (retry.retry_for, retry.max_attempts) == (timedelta(days=2), 6)
