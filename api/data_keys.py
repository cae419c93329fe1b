"""The data keys from the settings: TIDINGS_DATA_KEYS and TIDINGS_BLIND_INDEX_KEY, or in
development the key file `tidings.keys` beside `tidings.secret` (docs/encryption.md)."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

from tidings.core.crypto import (
    Keyring,
    KeyringError,
    new_key_text,
    parse_data_keys,
    parse_index_key,
)


class DataKeysError(Exception):
    """A key is missing or malformed: the process should refuse to start."""


def load_keyring(config: Mapping[str, str], env: str, path: Path) -> Keyring:
    """TIDINGS_DATA_KEYS and TIDINGS_BLIND_INDEX_KEY; required in production, in development
    each one missing comes from the key file `tidings.keys` (created once, mode 0600)."""
    data = (config.get("TIDINGS_DATA_KEYS") or "").strip()
    index = (config.get("TIDINGS_BLIND_INDEX_KEY") or "").strip()
    if not (data and index):
        if env == "production":
            raise DataKeysError(
                "TIDINGS_DATA_KEYS and TIDINGS_BLIND_INDEX_KEY are required when "
                "TIDINGS_ENV=production (see docs/encryption.md)"
            )
        kept = development_keys(path)
        data = data or kept.get("TIDINGS_DATA_KEYS", "")
        index = index or kept.get("TIDINGS_BLIND_INDEX_KEY", "")
    try:
        return Keyring(parse_data_keys(data), parse_index_key(index))
    except KeyringError as error:
        raise DataKeysError(str(error)) from None


def development_keys(path: Path) -> dict[str, str]:
    """The development keys kept in `tidings.keys` beside `tidings.secret`, created once
    with mode 0600 so every process started in the directory agrees."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it this very moment
            kept = {k: v for k, v in dotenv_values(path).items() if v and k.startswith("TIDINGS_")}
            if len(kept) == 2:
                return kept
            time.sleep(0.02)
        raise DataKeysError(f"{path} holds no usable keys; see docs/encryption.md") from None
    kept = {
        "TIDINGS_DATA_KEYS": f"dev1:{new_key_text()}",
        "TIDINGS_BLIND_INDEX_KEY": new_key_text(),
    }
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(f"{k}={v}\n" for k, v in kept.items()))
    return kept
