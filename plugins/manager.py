"""The plugin manager: built-in providers and vendors' plugins, loaded the same way."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import ModuleType

import pluggy

from tidings.plugins import hookspecs
from tidings.plugins.interface import Provider

PROJECT = "tidings"
BUILTIN_CHANNELS = ("email", "sms", "push", "in_app")
# Channel and provider names are identifiers clients type and logs show: plain ASCII, so no
# invisible or look-alike character can make `email\u200b` sit beside `email`.
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def plugin_manager(
    builtins: Iterable[ModuleType | object] = (), *, entry_points: bool = True
) -> pluggy.PluginManager:
    """A manager with our hook specs, the given built-in plugins, then installed ones."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    for plugin in builtins:
        manager.register(plugin)
    if entry_points:
        manager.load_setuptools_entrypoints(PROJECT)
    manager.check_pending()
    return manager


def load_providers(manager: pluggy.PluginManager, config: Mapping[str, str]) -> list[Provider]:
    """Every provider every plugin offers, in registration order (built-ins first)."""
    providers: list[Provider] = []
    seen: set[str] = set()
    # pluggy calls the most recently registered first; reverse to registration order.
    for offered in reversed(manager.hook.tidings_providers(config=config)):
        for provider in offered or ():
            for what, value in (("name", provider.name), ("channel", provider.channel)):
                if not isinstance(value, str) or not NAME.fullmatch(value):
                    raise ValueError(
                        f"a provider's {what} must be lower-case ASCII letters, digits, "
                        f"'_', '.' or '-' (at most 64), not {value!r}"
                    )
            if provider.name in seen:
                raise ValueError(f"two providers are named {provider.name!r}")
            seen.add(provider.name)
            providers.append(provider)
    return providers


def channel_map(providers: Iterable[Provider]) -> dict[str, list[str]]:
    """Channel name → provider names, with the built-in channels present even unserved."""
    channels: dict[str, list[str]] = {name: [] for name in BUILTIN_CHANNELS}
    for provider in providers:
        channels.setdefault(provider.channel, []).append(provider.name)
    return channels


def receipt_channels(providers: Iterable[Provider]) -> frozenset[str]:
    """The channels on which some provider reports delivery receipts (its optional class
    attribute `reports_receipts`, False when absent)."""
    return frozenset(
        provider.channel
        for provider in providers
        if getattr(provider, "reports_receipts", False) is True
    )
