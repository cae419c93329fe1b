"""`tidings.core.db` reads no environment when imported: configuration flows from Settings."""

from __future__ import annotations

import os
import subprocess
import sys


def test_the_migrations_config_ignores_the_environment():
    code = "from tidings.core.db import MIGRATIONS_CONFIG as c; print(c['connections']['default'])"
    env = {**os.environ, "TIDINGS_DATABASE_URL": "postgres://someone@db.example/prod"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "sqlite://:memory:"
