"""Hook specifications: the contract a vendor's plugin codes against.

A plugin is a module or package registered under the entry-point group ``tidings`` that
implements some of these hooks with ``tidings.plugins.hookimpl``. Hooks are synchronous;
the objects they return may have async methods, which Tidings awaits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from tidings.plugins.interface import Provider

hookspec = pluggy.HookspecMarker("tidings")


@hookspec
def tidings_providers(config: Mapping[str, str]) -> Sequence[Provider]:  # type: ignore[empty-body]
    """Return the providers this plugin offers, given the settings.

    Called once at start-up, in every process that delivers or lists channels.
    ``config`` holds every setting whose name starts with ``TIDINGS_`` (environment and
    ``.env``). Return an empty list when the plugin's own settings are absent, so that an
    installed but unconfigured plugin stays dormant. Each provider serves one channel; a
    provider whose channel Tidings does not know adds that channel. Providers of the same
    channel are tried in the order the plugins were registered (built-ins first).
    """
