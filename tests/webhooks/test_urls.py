"""Which URLs a webhook may have: http(s), no credentials, and (unless
TIDINGS_WEBHOOK_ALLOW_PRIVATE) no private or loopback destination, checked at creation and
again before every attempt. The settings' defaults and parsing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.api.test_encryption_settings import PRODUCTION_KEYS
from tests.conftest import Api, make_settings
from tests.core.support import create_category, create_customer
from tests.delivery.support import grant
from tests.webhooks.conftest import attempts, create_webhook
from tidings.api.app import create_app
from tidings.api.settings import Settings, SettingsError
from tidings.core.enums import Role
from tidings.core.webhooks.dispatcher import DispatcherOptions, WebhookDispatcher
from tidings.core.webhooks.urls import is_private


@pytest.fixture
async def strict_api(db: str) -> AsyncIterator[Api]:
    app = create_app(
        make_settings(db, TIDINGS_IN_PROCESS_WORKER="false", TIDINGS_WEBHOOK_ALLOW_PRIVATE="false"),
        manage_database=False,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield Api(client=c, app=app)
    app.state.runtime.templates.close()


REFUSED = [
    ("ftp://hooks.example.com/x", "INVALID_URL"),
    ("hooks.example.com/x", "INVALID_URL"),
    ("https://user:pass@hooks.example.com/x", "INVALID_URL"),
    ("https://token@hooks.example.com/x", "INVALID_URL"),
    ("https://hooks.example.com:99999/x", "INVALID_URL"),
    ("https://hooks.example.com/x#frag", "INVALID_URL"),
    ("https://hooks.example.com/a b", "INVALID_URL"),
    ("https://hooks.example.com/" + "x" * 2048, "INVALID_URL"),
    ("http://127.0.0.1:8000/hook", "UNSAFE_URL"),
    ("http://localhost/hook", "UNSAFE_URL"),
    ("http://10.1.2.3/hook", "UNSAFE_URL"),
    ("http://192.168.0.10/hook", "UNSAFE_URL"),
    ("http://169.254.169.254/latest/meta-data", "UNSAFE_URL"),
    ("http://0.0.0.0/hook", "UNSAFE_URL"),
    ("http://[::1]/hook", "UNSAFE_URL"),
    ("http://[::ffff:127.0.0.1]/hook", "UNSAFE_URL"),
    ("http://[fd00::1]/hook", "UNSAFE_URL"),
    ("http://100.64.0.1/hook", "UNSAFE_URL"),
    ("http://224.0.0.1/hook", "UNSAFE_URL"),
]


@pytest.mark.parametrize(("url", "code"), REFUSED)
async def test_unsafe_urls_are_refused(strict_api, url, code):
    _, token = await strict_api.staff(Role.ADMIN)
    payload = await create_webhook(strict_api, token, url, ["CONSENT"])
    assert payload["webhook"] is None and payload["secret"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, "url")]


async def test_a_public_address_and_at_least_one_event_type(strict_api):
    _, token = await strict_api.staff(Role.ADMIN)
    none = await create_webhook(strict_api, token, "https://93.184.215.14/hook", [])
    assert [(e["code"], e["field"]) for e in none["errors"]] == [("REQUIRED", "events")]
    made = await create_webhook(
        strict_api, token, "https://93.184.215.14/hook", ["CONSENT", "CONSENT", "ENGAGEMENT"]
    )
    assert made["errors"] == []
    assert made["webhook"]["events"] == ["CONSENT", "ENGAGEMENT"]


async def test_a_destination_that_turned_private_is_refused_before_sending(hook_api, receiver):
    """Created while private addresses were allowed; a dispatcher that refuses them sends
    nothing and records why."""
    api = hook_api
    _, token = await api.staff(Role.ADMIN)
    created = await create_webhook(api, token, receiver.url, ["CONSENT"])
    await create_category(api, token, "news")
    customer = await create_customer(api, token)
    await grant(api, token, customer["id"], "news")
    strict = WebhookDispatcher(DispatcherOptions(allow_private=False))
    try:
        assert await strict.run_once(datetime.now(UTC) + timedelta(seconds=1)) == 1
    finally:
        await strict.aclose()
    assert receiver.received == []
    [row] = await attempts(api, token, created["webhook"]["id"])
    assert row["status"] == "PENDING"
    assert row["lastError"] == "the destination is a private or loopback address"


def test_private_ranges():
    for address in ("127.0.0.1", "10.0.0.1", "172.16.5.4", "::1", "fe80::1", "100.64.0.1"):
        assert is_private(address), address
    assert not is_private("93.184.215.14")
    assert not is_private("2606:4700::1111")


def load(tmp_path: Path, **environ: str) -> Settings:
    base = {
        "TIDINGS_SECRET_KEY": "s" * 40,
        "TIDINGS_PUBLIC_URL": "https://n.example",
        **PRODUCTION_KEYS,
    }
    return Settings.load({**base, **environ}, env_file=None, workdir=tmp_path)


def test_settings(tmp_path):
    assert load(tmp_path).webhook_allow_private is True
    assert load(tmp_path, TIDINGS_ENV="production").webhook_allow_private is False
    assert (
        load(
            tmp_path, TIDINGS_ENV="production", TIDINGS_WEBHOOK_ALLOW_PRIVATE="true"
        ).webhook_allow_private
        is True
    )
    assert load(tmp_path).attribution_window == 7 * 24 * 3600
    assert load(tmp_path, TIDINGS_ATTRIBUTION_WINDOW="36h").attribution_window == 36 * 3600
    for bad in ("soon", "-1d", "0"):
        with pytest.raises(SettingsError, match="TIDINGS_ATTRIBUTION_WINDOW"):
            load(tmp_path, TIDINGS_ATTRIBUTION_WINDOW=bad)
    with pytest.raises(SettingsError, match="TIDINGS_WEBHOOK_ALLOW_PRIVATE"):
        load(tmp_path, TIDINGS_WEBHOOK_ALLOW_PRIVATE="perhaps")
