"""TIDINGS_DATA_KEYS and TIDINGS_BLIND_INDEX_KEY: required in production; in development a
key file `tidings.keys` beside `tidings.secret`, created once with mode 0600 and shared by
every process started in the directory; malformed keys stop the process at start."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from tidings.api.settings import Settings, SettingsError

SECRET = "encryption-settings-secret-" + "e" * 32
# Production requires data keys too (docs/encryption.md); other settings tests borrow these.
PRODUCTION_KEYS = {
    "TIDINGS_DATA_KEYS": "k1:" + "a" * 43 + "=",
    "TIDINGS_BLIND_INDEX_KEY": "b" * 43 + "=",
}
PRODUCTION = {
    "TIDINGS_ENV": "production",
    "TIDINGS_SECRET_KEY": SECRET,
    "TIDINGS_PUBLIC_URL": "https://notify.shop.example",
}


def load(tmp_path: Path, **environ: str) -> Settings:
    return Settings.load({"TIDINGS_SECRET_KEY": SECRET, **environ}, env_file=None, workdir=tmp_path)


@pytest.mark.parametrize("missing", ["TIDINGS_DATA_KEYS", "TIDINGS_BLIND_INDEX_KEY"])
def test_production_refuses_to_start_without_keys(tmp_path, missing):
    environ = {**PRODUCTION, **PRODUCTION_KEYS}
    del environ[missing]
    with pytest.raises(SettingsError, match="TIDINGS_DATA_KEYS and TIDINGS_BLIND_INDEX_KEY"):
        Settings.load(environ, env_file=None, workdir=tmp_path)
    assert not (tmp_path / "tidings.keys").exists()


def test_production_reads_the_keyring_and_never_prints_it(tmp_path):
    new = base64.b64encode(b"n" * 32).decode()
    settings = Settings.load(
        {**PRODUCTION, **PRODUCTION_KEYS, "TIDINGS_DATA_KEYS": f"k2:{new},k1:{'a' * 43}="},
        env_file=None,
        workdir=tmp_path,
    )
    assert settings.keyring is not None
    assert [k.key_id for k in settings.keyring.data_keys] == ["k2", "k1"]
    assert settings.keyring.current.key_id == "k2"
    assert new not in repr(settings) and "k2" not in repr(settings)


def test_development_makes_one_key_file_with_mode_0600_that_every_load_shares(tmp_path):
    first = load(tmp_path)
    path = tmp_path / "tidings.keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("TIDINGS_DATA_KEYS=dev1:") and "TIDINGS_BLIND_INDEX_KEY=" in text
    second = load(tmp_path)
    assert first.keyring is not None and second.keyring is not None
    stored = first.keyring.encrypt(b"ann@example.com", "customers", "email", 1)
    assert second.keyring.decrypt(stored, "customers", "email", 1) == b"ann@example.com"
    assert first.keyring.blind_index("email", "a@b.c") == second.keyring.blind_index(
        "email", "a@b.c"
    )
    assert path.read_text() == text  # not rewritten


def test_development_takes_a_key_given_over_the_file(tmp_path):
    settings = load(tmp_path, TIDINGS_DATA_KEYS=PRODUCTION_KEYS["TIDINGS_DATA_KEYS"])
    assert settings.keyring is not None and settings.keyring.current.key_id == "k1"


def test_an_empty_key_file_is_refused(tmp_path):
    (tmp_path / "tidings.keys").write_text("")
    with pytest.raises(SettingsError, match="holds no usable keys"):
        load(tmp_path)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TIDINGS_DATA_KEYS", "k1", "id:base64"),
        ("TIDINGS_DATA_KEYS", "k1:" + base64.b64encode(b"x" * 16).decode(), "32 bytes"),
        ("TIDINGS_BLIND_INDEX_KEY", "not base64!", "not valid base64"),
    ],
)
def test_malformed_keys_stop_the_process(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.load(
            {**PRODUCTION, **PRODUCTION_KEYS, name: value}, env_file=None, workdir=tmp_path
        )
