"""Signed engagement-tracking tokens: the open pixel and the tracked link (issue 12, item 9).

They end up in every link of a tracked mail, so they are compact rather than JWTs (a JWT
naming a delivery and a URL is some 250 characters before the URL): the bytes are the
delivery id (16), an HMAC-SHA256 tag cut to 12 bytes (96 bits), and for a link the original
URL itself, all base64url without padding. The tag covers the kind (`o` open, `c` click), the
delivery and the URL, under a key derived from the secret key for tracking alone
(HMAC(secret key, label), like core/links.py), so a tracking token is never a customer link
or a bearer token, an open token is never a click token, and a link cannot be pointed
elsewhere: changing one byte of the URL fails the tag. The URL is signed rather than an index
into the message's links because a template renders per customer: a click can be answered
without re-rendering anything, and without a row per link.

The URL is readable by whoever holds the mail (it was in the mail anyway); the access log
redacts the token (api/app.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import uuid
from urllib.parse import urlsplit

from tidings.core.keys import derive_key

_KEY_LABEL = b"tidings engagement tracking v1"
TAG_BYTES = 12
_ID_BYTES = 16
OPEN = b"o"
CLICK = b"c"
# Path prefixes under TIDINGS_PUBLIC_URL: `/t/o/<token>.gif` and `/t/c/<token>`.
OPEN_PATH = "/t/o/"
CLICK_PATH = "/t/c/"
# The longest URL a click token carries; a longer link is left as it is.
MAX_URL = 2048
_ALPHABET = re.compile(r"^[A-Za-z0-9_-]+$")


class InvalidTrackingToken(Exception):
    """Malformed, tampered with, of the other kind, or signed under another key."""


def is_web_url(url: str) -> bool:
    """An absolute http(s) URL with a host: the only kind a link is rewritten to, and the only
    kind a click ever redirects to."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


class TrackingSigner:
    """Makes and reads tracking tokens and their URLs under TIDINGS_PUBLIC_URL."""

    def __init__(self, secret_key: str, public_url: str) -> None:
        self._key = derive_key(secret_key, _KEY_LABEL)
        self.public_url = public_url.rstrip("/")

    def __repr__(self) -> str:
        return f"<TrackingSigner {self.public_url}>"

    def _tag(self, kind: bytes, delivery: bytes, url: bytes = b"") -> bytes:
        return hmac.new(self._key, kind + delivery + url, hashlib.sha256).digest()[:TAG_BYTES]

    # Making ----------------------------------------------------------------------------------

    def open_token(self, delivery_id: uuid.UUID) -> str:
        raw = delivery_id.bytes
        return _encode(raw + self._tag(OPEN, raw))

    def click_token(self, delivery_id: uuid.UUID, url: str) -> str:
        raw, target = delivery_id.bytes, url.encode()
        return _encode(raw + self._tag(CLICK, raw, target) + target)

    def open_url(self, delivery_id: uuid.UUID) -> str:
        return f"{self.public_url}{OPEN_PATH}{self.open_token(delivery_id)}.gif"

    def click_url(self, delivery_id: uuid.UUID, url: str) -> str:
        return f"{self.public_url}{CLICK_PATH}{self.click_token(delivery_id, url)}"

    # Reading ---------------------------------------------------------------------------------

    def read_open(self, token: str) -> uuid.UUID:
        """The delivery an open token names, or InvalidTrackingToken."""
        raw = _decode(token)
        if len(raw) != _ID_BYTES + TAG_BYTES:
            raise InvalidTrackingToken("not an open token")
        delivery, tag = raw[:_ID_BYTES], raw[_ID_BYTES:]
        if not hmac.compare_digest(tag, self._tag(OPEN, delivery)):
            raise InvalidTrackingToken("bad tag")
        return uuid.UUID(bytes=delivery)

    def read_click(self, token: str) -> tuple[uuid.UUID, str]:
        """The delivery and the original URL a click token names, or InvalidTrackingToken."""
        raw = _decode(token)
        if len(raw) <= _ID_BYTES + TAG_BYTES:
            raise InvalidTrackingToken("not a click token")
        delivery = raw[:_ID_BYTES]
        tag = raw[_ID_BYTES : _ID_BYTES + TAG_BYTES]
        target = raw[_ID_BYTES + TAG_BYTES :]
        if not hmac.compare_digest(tag, self._tag(CLICK, delivery, target)):
            raise InvalidTrackingToken("bad tag")
        try:
            url = target.decode()
        except UnicodeDecodeError:
            raise InvalidTrackingToken("not a URL") from None
        if not is_web_url(url):  # never signed so, but a redirect must not trust that alone
            raise InvalidTrackingToken("not a URL")
        return uuid.UUID(bytes=delivery), url


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(token: str) -> bytes:
    if len(token) > 4 * MAX_URL or not _ALPHABET.match(token):
        raise InvalidTrackingToken("malformed")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidTrackingToken("malformed") from None
    if _encode(raw) != token:  # one spelling per token: stray low bits in the last character
        raise InvalidTrackingToken("malformed")
    return raw
