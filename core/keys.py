"""Keys derived from the secret key, one per purpose, so no two uses ever share one and the
secret key itself signs nothing but bearer tokens."""

from __future__ import annotations

import hashlib
import hmac


def derive_key(secret_key: str, label: bytes) -> bytes:
    """The key for one purpose: HMAC-SHA256 of its label under the secret key."""
    return hmac.new(secret_key.encode(), label, hashlib.sha256).digest()
