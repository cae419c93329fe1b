"""TIDINGS_TEMPLATE_RENDER_TIMEOUT: a duration that keeps its fractions, and the limit the
app's template processes render under (saves and sends alike)."""

from __future__ import annotations

import pytest

from tidings.api.runtime import build_runtime
from tidings.api.settings import Settings, SettingsError

BASE = {"TIDINGS_SECRET_KEY": "k" * 40, "TIDINGS_DATABASE_URL": "sqlite://:memory:"}


@pytest.mark.parametrize(("raw", "seconds"), [("200ms", 0.2), ("0.5", 0.5), ("1s", 1.0)])
def test_the_render_timeout_is_a_duration_with_fractions(tmp_path, raw, seconds):
    settings = Settings.load(
        {**BASE, "TIDINGS_TEMPLATE_RENDER_TIMEOUT": raw}, env_file=None, workdir=tmp_path
    )
    assert settings.template_render_timeout == seconds
    runtime = build_runtime(settings)
    assert runtime.templates.limits.render_timeout == seconds
    assert runtime.services.messages.sandbox is runtime.templates
    assert runtime.worker.pipeline.templates is runtime.templates


@pytest.mark.parametrize("raw", ["fast", "0", "-1s"])
def test_a_bad_render_timeout_is_refused_naming_it(tmp_path, raw):
    with pytest.raises(SettingsError) as raised:
        Settings.load(
            {**BASE, "TIDINGS_TEMPLATE_RENDER_TIMEOUT": raw}, env_file=None, workdir=tmp_path
        )
    assert "TIDINGS_TEMPLATE_RENDER_TIMEOUT" in str(raised.value)
