"""The built-in providers. Each module is an ordinary plugin, registered through the same
`tidings_providers` hook a vendor's package implements, and stays dormant when its
settings are absent (the in-app provider, which needs none, is always on)."""

from __future__ import annotations

from types import ModuleType

from tidings.providers import fcm, in_app, sms, smtp

# In registration order: for a channel served twice, the earlier provider is tried first.
BUILTIN_PROVIDER_MODULES: tuple[ModuleType, ...] = (smtp, fcm, sms, in_app)

__all__ = ["BUILTIN_PROVIDER_MODULES"]
