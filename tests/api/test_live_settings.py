"""TIDINGS_LIVE_SEND_TIMEOUT: how long a live frame may wait on a client that stopped reading,
a duration with fractions, handed to the live runtime."""

from __future__ import annotations

import pytest

from tidings.api.runtime import build_runtime
from tidings.api.settings import Settings, SettingsError

BASE = {"TIDINGS_SECRET_KEY": "k" * 40, "TIDINGS_DATABASE_URL": "sqlite://:memory:"}


@pytest.mark.parametrize(("raw", "seconds"), [(None, 5.0), ("500ms", 0.5), ("2", 2.0)])
def test_the_send_timeout_reaches_the_live_runtime(tmp_path, raw, seconds):
    environ = {**BASE, **({"TIDINGS_LIVE_SEND_TIMEOUT": raw} if raw else {})}
    settings = Settings.load(environ, env_file=None, workdir=tmp_path)
    assert settings.live_send_timeout == seconds
    runtime = build_runtime(settings)
    try:
        assert runtime.live.send_timeout == seconds
    finally:
        runtime.templates.close()


@pytest.mark.parametrize("raw", ["soon", "0", "-1s"])
def test_a_bad_send_timeout_is_refused_naming_it(tmp_path, raw):
    with pytest.raises(SettingsError) as raised:
        Settings.load({**BASE, "TIDINGS_LIVE_SEND_TIMEOUT": raw}, env_file=None, workdir=tmp_path)
    assert "TIDINGS_LIVE_SEND_TIMEOUT" in str(raised.value)
