"""The keyring: AES-256-GCM data keys (the first encrypts, every one decrypts) and the
blind-index key.

A ciphertext is one binary string, stored as base64 text:

    version (1 byte, 0x01) | key id length (1 byte) | key id (ASCII) | nonce (12 bytes)
    | ciphertext + 16-byte GCM tag

The associated data is the table, the column and the row's id, so a ciphertext copied into
another row or another column fails to decrypt instead of reading as that row's value. The
key id travels with the ciphertext, so rows written under an older key still decrypt while
`tidings rotate-keys` moves them to the newest.

The blind index is HMAC-SHA256 of a normalised value (an email lower-cased, a phone in
E.164, a name case-folded) under a key of its own: equal values give equal indexes, which
is what exact lookup and uniqueness need, and all it reveals (see docs/encryption.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import unicodedata
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = 1
# Each word of a name gets a short blind index of its own, so one word finds the name.
NAME_WORD = "name_word"
WORD_DIGITS = 16
NONCE_BYTES = 12
KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class KeyringError(Exception):
    """A key is missing or malformed (the process should refuse to start), or a ciphertext
    cannot be decrypted with the keyring (wrong key, tampered, or moved to another row)."""


@dataclass(frozen=True)
class DataKey:
    """One AES-256 key and the id stored beside every ciphertext made with it."""

    key_id: str
    secret: bytes = field(repr=False)


def _b64_key(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"{what} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyringError(f"{what} must be {KEY_BYTES} bytes (base64 of 32 random bytes)")
    return raw


def parse_data_keys(text: str) -> tuple[DataKey, ...]:
    """`TIDINGS_DATA_KEYS`: comma-separated `id:base64-of-32-bytes`; the first encrypts."""
    keys: list[DataKey] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key_id, sep, value = item.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.match(key_id):
            raise KeyringError(
                "TIDINGS_DATA_KEYS entries are id:base64 with an id of letters, digits, - or _"
            )
        if any(k.key_id == key_id for k in keys):
            raise KeyringError(f"TIDINGS_DATA_KEYS names the key id {key_id!r} twice")
        keys.append(DataKey(key_id, _b64_key(value, f"TIDINGS_DATA_KEYS key {key_id!r}")))
    if not keys:
        raise KeyringError("TIDINGS_DATA_KEYS holds no key")
    return tuple(keys)


def parse_index_key(text: str) -> bytes:
    """`TIDINGS_BLIND_INDEX_KEY`: base64 of 32 random bytes."""
    return _b64_key(text, "TIDINGS_BLIND_INDEX_KEY")


def new_key_text() -> str:
    """A fresh key, base64-encoded (what the key file and the docs' example hold)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def normalise(kind: str, value: str) -> str:
    """What the blind index hashes: equal people-equal values hash equal."""
    if kind == "email":
        return value.strip().lower()
    if kind == "phone":
        return re.sub(r"[\s().-]", "", value)
    return " ".join(unicodedata.normalize("NFC", value).casefold().split())


class Keyring:
    """Encrypts under the first data key, decrypts under any; computes blind indexes."""

    def __init__(self, data_keys: tuple[DataKey, ...], index_key: bytes) -> None:
        if not data_keys:
            raise KeyringError("a keyring needs at least one data key")
        self.data_keys = data_keys
        self.current = data_keys[0]
        self._ciphers = {k.key_id: AESGCM(k.secret) for k in data_keys}
        self._headers = {
            k.key_id: bytes([VERSION, len(k.key_id)]) + k.key_id.encode() for k in data_keys
        }
        self._index_key = index_key

    def __repr__(self) -> str:  # never the keys
        return f"<Keyring current={self.current.key_id} keys={len(self.data_keys)}>"

    @staticmethod
    def associated_data(table: str, column: str, row_id: object) -> bytes:
        return f"{table}\x1f{column}\x1f{row_id}".encode()

    def encrypt(self, plaintext: bytes, table: str, column: str, row_id: object) -> str:
        key_id = self.current.key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(
            nonce, plaintext, self.associated_data(table, column, row_id)
        )
        return base64.b64encode(self._headers[key_id] + nonce + sealed).decode("ascii")

    def decrypt(self, stored: str, table: str, column: str, row_id: object) -> bytes:
        key_id, nonce, sealed = self._split(stored)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise KeyringError(
                f"{table}.{column} of row {row_id}: no key {key_id!r} in the keyring"
            )
        try:
            return cipher.decrypt(nonce, sealed, self.associated_data(table, column, row_id))
        except InvalidTag:
            raise KeyringError(
                f"{table}.{column} of row {row_id} does not decrypt: tampered with, "
                "moved from another row or column, or written under another key"
            ) from None

    def key_id_of(self, stored: str) -> str:
        """The id of the key a stored ciphertext was made with (no decryption)."""
        return self._split(stored)[0]

    def _split(self, stored: str) -> tuple[str, bytes, bytes]:
        try:
            blob = base64.b64decode(stored, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise KeyringError("not a ciphertext (plain text in an encrypted column?)") from None
        if len(blob) < 2 or blob[0] != VERSION:
            raise KeyringError("not a ciphertext of a known version")
        end = 2 + blob[1]
        if len(blob) < end + NONCE_BYTES + 16:
            raise KeyringError("a truncated ciphertext")
        key_id = blob[2:end].decode("ascii", "replace")
        return key_id, blob[end : end + NONCE_BYTES], blob[end + NONCE_BYTES :]

    def blind_index(self, kind: str, value: str) -> str:
        """HMAC-SHA256 (hex) of the kind and the normalised value under the index key."""
        message = f"{kind}\x1f{normalise(kind, value)}".encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()

    def name_word(self, word: str) -> str:
        """One word's index among a name's words (64 bits: a search, not a key)."""
        return self.blind_index(NAME_WORD, word)[:WORD_DIGITS]

    def name_words(self, name: str | None) -> str | None:
        """The indexes of a name's distinct words, sorted, each between spaces (so a search
        for one is a plain `LIKE '% word %'`); None for no name."""
        words = sorted({self.name_word(w) for w in normalise("name", name or "").split()})
        return f" {' '.join(words)} " if words else None
