"""Durations read one way everywhere: the service's TTLs and leases, the built-in providers'
timeouts, and a vendor's own settings through `tidings.plugins.parse_duration`."""

from __future__ import annotations

import pytest

from tidings.plugins import parse_duration
from tidings.plugins.manager import load_providers, plugin_manager
from tidings.providers import BUILTIN_PROVIDER_MODULES
from tidings.providers.fcm import FcmSettings
from tidings.providers.sms import HttpSmsSettings
from tidings.providers.smtp import SmtpSettings


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("30", 30.0),
        ("2.5", 2.5),
        ("500ms", 0.5),
        ("90s", 90.0),
        (" 2M ", 120.0),
        ("12h", 43200.0),
        ("30d", 2592000.0),
        ("1.5h", 5400.0),
    ],
)
def test_parse_duration(raw, seconds):
    assert parse_duration(raw, "TIDINGS_X") == seconds


@pytest.mark.parametrize("raw", ["", "soon", "-1", "0", "0ms", "5w", "1h30m", "1e3"])
def test_a_bad_duration_names_its_setting(raw):
    with pytest.raises(ValueError, match="TIDINGS_X"):
        parse_duration(raw, "TIDINGS_X")


def test_provider_timeouts_take_units():
    smtp = SmtpSettings.from_config(
        {
            "TIDINGS_SMTP_HOST": "smtp.example",
            "TIDINGS_SMTP_FROM": "a@example.com",
            "TIDINGS_SMTP_TIMEOUT": "500ms",
        }
    )
    sms = HttpSmsSettings.from_config(
        {
            "TIDINGS_SMS_URL": "https://sms.example/v1",
            "TIDINGS_SMS_API_KEY": "k",
            "TIDINGS_SMS_FROM": "Shop",
            "TIDINGS_SMS_TIMEOUT": "1m",
        }
    )
    fcm = FcmSettings.from_config(
        {"TIDINGS_FCM_CREDENTIALS": "/run/secrets/f.json", "TIDINGS_FCM_TIMEOUT": "45s"}
    )
    assert smtp is not None and smtp.timeout == 0.5
    assert sms is not None and sms.timeout == 60.0
    assert fcm is not None and fcm.timeout == 45.0


def test_a_bad_provider_timeout_stops_start_up_naming_it():
    manager = plugin_manager(builtins=BUILTIN_PROVIDER_MODULES, entry_points=False)
    config = {
        "TIDINGS_SMTP_HOST": "smtp.example",
        "TIDINGS_SMTP_FROM": "a@example.com",
        "TIDINGS_SMTP_TIMEOUT": "a while",
    }
    with pytest.raises(ValueError, match="TIDINGS_SMTP_TIMEOUT"):
        load_providers(manager, config)
