"""Settings: durations with units, clear errors naming the setting, and no dead fields."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from tidings.api.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
SECRET = "settings-test-secret-" + "s" * 32
DURATIONS = (
    "TIDINGS_PREFERENCE_LINK_TTL",
    "TIDINGS_STAFF_TOKEN_TTL",
    "TIDINGS_CUSTOMER_TOKEN_TTL",
    "TIDINGS_WORKER_LEASE_SECONDS",
)
FIELD_OF = {
    "TIDINGS_PREFERENCE_LINK_TTL": "preference_link_ttl",
    "TIDINGS_STAFF_TOKEN_TTL": "staff_token_ttl",
    "TIDINGS_CUSTOMER_TOKEN_TTL": "customer_token_ttl",
    "TIDINGS_WORKER_LEASE_SECONDS": "worker_lease_seconds",
}


def load(tmp_path: Path, **environ: str) -> Settings:
    return Settings.load({"TIDINGS_SECRET_KEY": SECRET, **environ}, env_file=None, workdir=tmp_path)


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("3600", 3600),
        ("90s", 90),
        ("15m", 900),
        ("12h", 43200),
        ("30d", 2592000),
        (" 2H ", 7200),
        ("1 d", 86400),
        ("1.5h", 5400),
    ],
)
def test_durations_accept_seconds_and_units(tmp_path, name, raw, seconds):
    settings = load(tmp_path, **{name: raw})
    assert getattr(settings, FIELD_OF[name]) == seconds


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize("raw", ["12 hours", "h", "-5", "0", "0d", "12w", "1h30m", "500ms"])
def test_a_bad_duration_is_refused_naming_the_setting(tmp_path, name, raw):
    with pytest.raises(SettingsError) as raised:
        load(tmp_path, **{name: raw})
    assert name in str(raised.value)


def test_duration_defaults(tmp_path):
    settings = load(tmp_path)
    assert settings.staff_token_ttl == 12 * 3600
    assert settings.customer_token_ttl == 30 * 86400
    assert settings.worker_lease_seconds == 120


def test_a_duration_in_a_dotenv_file(tmp_path):
    (tmp_path / ".env").write_text("TIDINGS_CUSTOMER_TOKEN_TTL=7d\n")
    settings = Settings.load(
        {"TIDINGS_SECRET_KEY": SECRET}, env_file=tmp_path / ".env", workdir=tmp_path
    )
    assert settings.customer_token_ttl == 7 * 86400


@pytest.mark.parametrize(
    ("name", "raw"),
    [("TIDINGS_MAX_QUERY_DEPTH", "ten"), ("TIDINGS_WORKER_BATCH_SIZE", "0")],
)
def test_a_bad_number_is_refused_naming_the_setting(tmp_path, name, raw):
    with pytest.raises(SettingsError, match=name):
        load(tmp_path, **{name: raw})


def test_every_settings_field_is_read_somewhere():
    """A field nothing reads is a setting that silently does nothing: the tree outside
    api/settings.py (tests and bench included) must read each one."""
    sources = [
        path
        for folder in ("api", "core", "schema", "providers", "plugins", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if path != ROOT / "api" / "settings.py"
    ]
    text = "\n".join(path.read_text(encoding="utf-8") for path in sources)
    unread = [f.name for f in dataclasses.fields(Settings) if not re.search(rf"\.{f.name}\b", text)]
    assert unread == [], f"Settings fields nothing reads: {unread}"


@pytest.mark.parametrize(
    ("raw", "on"), [("on", True), ("off", False), ("false", False), (" ON ", True), ("", True)]
)
def test_tracking_is_on_unless_turned_off(tmp_path, raw, on):
    assert load(tmp_path, TIDINGS_TRACKING=raw).tracking is on
    assert load(tmp_path).tracking is True


def test_a_bad_tracking_switch_is_refused_naming_the_setting(tmp_path):
    with pytest.raises(SettingsError) as raised:
        load(tmp_path, TIDINGS_TRACKING="sometimes")
    assert "TIDINGS_TRACKING" in str(raised.value)


@pytest.mark.parametrize(
    ("database", "loops"),
    [("sqlite://tidings.sqlite3", 1), ("postgres://db/tidings", 2), ("postgresql://db/t", 2)],
)
def test_worker_concurrency_defaults_by_database(tmp_path, database, loops):
    """PostgreSQL's SKIP LOCKED claims in parallel; SQLite has one writer: one loop."""
    assert load(tmp_path, TIDINGS_DATABASE_URL=database).worker_concurrency == loops


def test_worker_concurrency_is_read(tmp_path):
    assert load(tmp_path, TIDINGS_WORKER_CONCURRENCY=" 4 ").worker_concurrency == 4
    assert load(tmp_path, TIDINGS_WORKER_CONCURRENCY="3").worker_concurrency == 3


@pytest.mark.parametrize(
    ("raw", "why"),
    [("0", "must be positive"), ("-2", "must be positive"), ("two", "must be an integer"),
     ("1.5", "must be an integer")],
)  # fmt: skip
def test_a_bad_worker_concurrency_is_refused_saying_why(tmp_path, raw, why):
    with pytest.raises(SettingsError, match=f"TIDINGS_WORKER_CONCURRENCY {why}"):
        load(tmp_path, TIDINGS_WORKER_CONCURRENCY=raw)
