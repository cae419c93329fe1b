"""The operations settings: log format, shutdown deadline, worker heartbeat file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidings.api.settings import Settings, SettingsError

SECRET = "ops-settings-secret-" + "o" * 32


def load(tmp_path: Path, **environ: str) -> Settings:
    return Settings.load({"TIDINGS_SECRET_KEY": SECRET, **environ}, env_file=None, workdir=tmp_path)


def test_defaults(tmp_path):
    settings = load(tmp_path)
    assert settings.log_format == "text"
    assert settings.shutdown_seconds == 30
    assert settings.worker_heartbeat_file is None


@pytest.mark.parametrize(("raw", "value"), [("json", "json"), (" JSON ", "json"), ("text", "text")])
def test_log_format(tmp_path, raw, value):
    assert load(tmp_path, TIDINGS_LOG_FORMAT=raw).log_format == value


def test_an_unknown_log_format_is_refused_naming_the_setting(tmp_path):
    with pytest.raises(SettingsError, match="TIDINGS_LOG_FORMAT must be one of text, json"):
        load(tmp_path, TIDINGS_LOG_FORMAT="xml")


@pytest.mark.parametrize(("raw", "seconds"), [("10", 10), ("1m", 60), ("500ms", 0.5)])
def test_shutdown_seconds_is_a_duration(tmp_path, raw, seconds):
    assert load(tmp_path, TIDINGS_SHUTDOWN_SECONDS=raw).shutdown_seconds == seconds


@pytest.mark.parametrize("raw", ["0", "-5", "soon"])
def test_a_bad_shutdown_deadline_is_refused_naming_the_setting(tmp_path, raw):
    with pytest.raises(SettingsError, match="TIDINGS_SHUTDOWN_SECONDS"):
        load(tmp_path, TIDINGS_SHUTDOWN_SECONDS=raw)


def test_heartbeat_file(tmp_path):
    path = str(tmp_path / "beat")
    assert load(tmp_path, TIDINGS_WORKER_HEARTBEAT_FILE=f" {path} ").worker_heartbeat_file == path
    assert load(tmp_path, TIDINGS_WORKER_HEARTBEAT_FILE="").worker_heartbeat_file is None
