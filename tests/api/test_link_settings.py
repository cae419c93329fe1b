"""The settings for customer links: where customers reach the service, how long a preference
link lives, the unsubscribe mailbox and confirmed opt-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.test_encryption_settings import PRODUCTION_KEYS
from tidings.api.settings import Settings, SettingsError
from tidings.core.enums import EmailConfirmation

SECRET = "link-settings-secret-" + "s" * 32


def load(tmp_path: Path, **environ: str) -> Settings:
    return Settings.load({"TIDINGS_SECRET_KEY": SECRET, **environ}, env_file=None, workdir=tmp_path)


def test_defaults_in_development(tmp_path):
    settings = load(tmp_path)
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.preference_link_ttl == 7 * 24 * 3600
    assert settings.unsubscribe_mailto is None
    assert settings.email_confirmation is EmailConfirmation.CATEGORY


def test_public_url_is_required_in_production(tmp_path):
    with pytest.raises(SettingsError, match="TIDINGS_PUBLIC_URL is required"):
        load(tmp_path, TIDINGS_ENV="production")
    settings = load(
        tmp_path,
        TIDINGS_ENV="production",
        TIDINGS_PUBLIC_URL="https://notify.shop.example/",
        **PRODUCTION_KEYS,
    )
    assert settings.public_url == "https://notify.shop.example"  # no trailing slash


def test_public_url_keeps_a_path(tmp_path):
    settings = load(tmp_path, TIDINGS_PUBLIC_URL="https://shop.example/tidings/")
    assert settings.public_url == "https://shop.example/tidings"


@pytest.mark.parametrize(
    "raw",
    [
        "notify.shop.example",
        "ftp://notify.shop.example",
        "https://",
        "https://shop.example/?a=1",
        "https://shop.example/#top",
        "https://user:pw@shop.example",
        'https://shop.example/"><script>',
        "javascript:alert(1)",
    ],
)
def test_a_bad_public_url_is_refused(tmp_path, raw):
    with pytest.raises(SettingsError, match="TIDINGS_PUBLIC_URL"):
        load(tmp_path, TIDINGS_PUBLIC_URL=raw)


@pytest.mark.parametrize("raw", ["unsubscribe@shop.example", "mailto:unsubscribe@shop.example"])
def test_unsubscribe_mailto_takes_an_address(tmp_path, raw):
    assert load(tmp_path, TIDINGS_UNSUBSCRIBE_MAILTO=raw).unsubscribe_mailto == (
        "unsubscribe@shop.example"
    )


@pytest.mark.parametrize(
    "raw", ["not an address", "a@b", "x@shop.example?subject=hi", "<x@shop.example>"]
)
def test_a_bad_unsubscribe_mailto_is_refused(tmp_path, raw):
    with pytest.raises(SettingsError, match="TIDINGS_UNSUBSCRIBE_MAILTO"):
        load(tmp_path, TIDINGS_UNSUBSCRIBE_MAILTO=raw)


def test_email_confirmation_values(tmp_path):
    assert (
        load(tmp_path, TIDINGS_EMAIL_CONFIRMATION="Required").email_confirmation
        is EmailConfirmation.REQUIRED
    )
    with pytest.raises(SettingsError, match="TIDINGS_EMAIL_CONFIRMATION"):
        load(tmp_path, TIDINGS_EMAIL_CONFIRMATION="always")
