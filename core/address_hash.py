"""Keyed hashes of addresses, so a suppression can be kept without the address itself.

A suppressed address (a hard bounce, repeated soft bounces) must outlive the customer who
had it: an erased customer re-imported with the same address is still stopped. Keeping the
address would keep personal data the customer asked us to forget; a plain hash of it could
be reversed by hashing every likely address. So the address, normalised, is hashed with
HMAC-SHA256 under a key derived from the secret key for this purpose alone (as core/links.py
derives its own), and only the hash is stored.

Normalised: an email is stripped and lower-cased (mail systems treat the whole address
case-insensitively in practice); a phone is hashed as stored (E.164, already normalised when
it was saved); any other channel's address is stripped.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection

from tidings.core.keys import derive_key

# Addresses are hashed with HMAC(secret key, this label), never the secret key itself.
_KEY_LABEL = b"tidings suppressed addresses v1"


def normalise(channel: str, address: str) -> str:
    """The form of `address` that is hashed: equal addresses hash equal."""
    if channel == "email":
        return address.strip().lower()
    if channel == "sms":
        return address
    return address.strip()


class AddressHasher:
    """Hashes a channel's address under a key of its own, derived from the secret key."""

    def __init__(self, secret_key: str, channels: Collection[str] | None = None) -> None:
        """`channels`: the channels a provider serves, the only ones a bounce can come back
        on, so the only addresses worth hashing when a batch looks for suppressions (None:
        email, sms and every channel a customer's attributes name)."""
        self._key = derive_key(secret_key, _KEY_LABEL)
        self.channels = None if channels is None else frozenset(channels)

    def __repr__(self) -> str:
        return "<AddressHasher>"

    def digest(self, channel: str, address: str) -> str:
        """The hex HMAC of the channel and the normalised address (64 characters)."""
        message = f"{channel}\x1f{normalise(channel, address)}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
