"""The keyring the model fields use.

Tortoise builds field values without any context of ours (`to_db_value` gets the model
instance, nothing else), so the keyring the process was started with is installed here once,
next to the database connections (`core.db.init_db`), exactly as tortoise keeps those.
"""

from __future__ import annotations

from tidings.core.crypto.keyring import Keyring, KeyringError

_installed: list[Keyring] = []


def install_keyring(keyring: Keyring) -> None:
    """Make `keyring` the one encrypted columns use from now on in this process."""
    _installed[:] = [keyring]


def active_keyring() -> Keyring:
    if not _installed:
        raise KeyringError("no keyring installed: the database was opened without data keys")
    return _installed[0]
