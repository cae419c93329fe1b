"""The built-in providers load through pluggy exactly as a vendor's plugin does."""

from __future__ import annotations

import pytest

from tidings.plugins import Provider, hookimpl
from tidings.plugins.manager import channel_map, load_providers, plugin_manager
from tidings.providers import BUILTIN_PROVIDER_MODULES, fcm, in_app, sms, smtp

FULL_CONFIG = {
    "TIDINGS_SMTP_HOST": "smtp.example",
    "TIDINGS_SMTP_FROM": "Shop <news@shop.example>",
    "TIDINGS_SMTP_USERNAME": "mailer",
    "TIDINGS_SMTP_PASSWORD": "pw-never-shown",
    "TIDINGS_FCM_CREDENTIALS": "/run/secrets/firebase.json",
    "TIDINGS_SMS_URL": "https://sms.example/v1/messages",
    "TIDINGS_SMS_API_KEY": "key-never-shown",
    "TIDINGS_SMS_FROM": "Shop",
}


def test_every_builtin_module_implements_the_hook_and_nothing_misspelt() -> None:
    manager = plugin_manager(builtins=BUILTIN_PROVIDER_MODULES, entry_points=False)

    manager.check_pending()
    assert set(BUILTIN_PROVIDER_MODULES) == {smtp, fcm, sms, in_app}
    implementers = {impl.plugin for impl in manager.hook.tidings_providers.get_hookimpls()}
    assert implementers == set(BUILTIN_PROVIDER_MODULES)


def test_configured_builtins_are_offered_in_registration_order() -> None:
    manager = plugin_manager(builtins=BUILTIN_PROVIDER_MODULES, entry_points=False)

    providers = load_providers(manager, FULL_CONFIG)

    assert [p.name for p in providers] == ["smtp", "fcm", "http-sms", "inbox"]
    assert all(isinstance(p, Provider) for p in providers)
    assert channel_map(providers) == {
        "email": ["smtp"],
        "sms": ["http-sms"],
        "push": ["fcm"],
        "in_app": ["inbox"],
    }
    printed = " ".join(repr(p) for p in providers)
    assert "pw-never-shown" not in printed and "key-never-shown" not in printed


def test_unconfigured_builtins_stay_dormant() -> None:
    manager = plugin_manager(builtins=BUILTIN_PROVIDER_MODULES, entry_points=False)

    assert [p.name for p in load_providers(manager, {})] == ["inbox"]  # needs no settings
    only_sms = {k: v for k, v in FULL_CONFIG.items() if k.startswith("TIDINGS_SMS_")}
    assert [p.name for p in load_providers(manager, only_sms)] == ["http-sms", "inbox"]


def test_a_broken_setting_stops_start_up_without_printing_secrets() -> None:
    manager = plugin_manager(builtins=BUILTIN_PROVIDER_MODULES, entry_points=False)
    broken = {**FULL_CONFIG, "TIDINGS_SMTP_SECURITY": "sometimes"}

    with pytest.raises(ValueError, match="TIDINGS_SMTP_SECURITY") as raised:
        load_providers(manager, broken)
    assert "pw-never-shown" not in str(raised.value)


class _Named:
    max_batch = 1

    def __init__(self, name: str, channel: str) -> None:
        self.name, self.channel = name, channel

    async def start(self) -> None: ...

    async def send(self, batch):  # pragma: no cover - never sent
        return []

    async def aclose(self) -> None: ...


class _Offers:
    def __init__(self, provider: _Named) -> None:
        self.provider = provider

    @hookimpl
    def tidings_providers(self, config):
        return [self.provider]


@pytest.mark.parametrize(
    ("name", "channel"),
    [
        ("acme", "email\u200b"),  # a zero-width space: looks like "email"
        ("acme", "chat\u202e"),  # a bidi override
        ("acme\u200d", "chat"),
        ("acme", "Chat"),
        ("acme", ""),
        ("acme", "chat room"),
    ],
)
def test_a_provider_with_an_unclean_name_or_channel_is_refused(name, channel) -> None:
    manager = plugin_manager(builtins=[_Offers(_Named(name, channel))], entry_points=False)
    with pytest.raises(ValueError, match="lower-case ASCII"):
        load_providers(manager, {})


def test_clean_names_load() -> None:
    manager = plugin_manager(builtins=[_Offers(_Named("acme-chat", "chat.v2"))], entry_points=False)
    [provider] = load_providers(manager, {})
    assert (provider.name, provider.channel) == ("acme-chat", "chat.v2")
