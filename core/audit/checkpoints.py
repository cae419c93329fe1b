"""Signed checkpoints: where verification starts once pruning has removed older entries.

A checkpoint names the last pruned entry (its id and hash) and carries an HMAC-SHA256 over
both, under a key derived from the secret key for this purpose alone. Someone who can write
to the database but does not hold the secret key cannot make a checkpoint that skips the
entries they removed or changed.
"""

from __future__ import annotations

import hashlib
import hmac

from tidings.core.keys import derive_key

CHECKPOINT_KEY_LABEL = b"tidings audit checkpoints v1"


class CheckpointSigner:
    """Signs and checks checkpoints with the key derived from the secret key."""

    def __init__(self, secret_key: str) -> None:
        self._key = derive_key(secret_key, CHECKPOINT_KEY_LABEL)

    def __repr__(self) -> str:
        return "<CheckpointSigner>"

    def sign(self, entry_id: int, entry_hash: str) -> str:
        message = f"{entry_id}:{entry_hash}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def valid(self, entry_id: int, entry_hash: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(entry_id, entry_hash), signature)
