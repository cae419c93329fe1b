"""Several processes may start at once on an empty development database: only one makes the
development admin, and the others start anyway."""

from __future__ import annotations

import asyncio

from tests.conftest import make_settings
from tidings.api.cli import DEV_ADMIN_EMAIL, _ensure_dev_admin
from tidings.core.models import Staff


async def test_two_starts_at_once_make_one_admin_and_neither_fails(db, capsys):
    settings = make_settings(db)
    await asyncio.gather(_ensure_dev_admin(settings), _ensure_dev_admin(settings))
    assert await Staff.filter(email=DEV_ADMIN_EMAIL).count() == 1
    assert capsys.readouterr().out.count("Development admin created") == 1
