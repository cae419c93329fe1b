"""Signed links a customer follows from a message, without logging in.

Three kinds, each a JWT (HS256) under a key derived from the secret key for links alone, so
a link is never a bearer token and a bearer token is never a link:

- **preferences** (`/preferences/<token>`): the customer's preference page and nothing else.
  It expires (TIDINGS_PREFERENCE_LINK_TTL) and carries the customer's `token_version`, so
  `revokeCustomerTokens` kills it with the customer's bearer tokens.
- **unsubscribe** (`/unsubscribe/<token>`): withdraws one category on one channel (a digest's
  link: each of the categories it stands for). It can only withdraw, so it never expires and
  survives revocation: mail in an old inbox keeps working.
- **confirm** (`/confirm/<token>`): confirms one PENDING email grant (the ledger entry it
  names). It expires with the preference link's lifetime.
- **export** (`/exports/<token>`): downloads the customer's data export (exportCustomerData),
  regenerated on demand. It expires after EXPORT_TTL (a day).

The page a link opens re-checks everything against the database; the token only says whom
and what it is about.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote

import jwt

from tidings.core.keys import derive_key

ISSUER = "tidings-links"
# TIDINGS_PUBLIC_URL in development.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
# Link tokens are signed with HMAC(secret key, this label), never the secret key itself.
_KEY_LABEL = b"tidings customer links v1"
EXPORT_TTL = 24 * 3600


class LinkKind(str, Enum):
    PREFERENCES = "preferences"
    UNSUBSCRIBE = "unsubscribe"
    CONFIRM = "confirm"
    EXPORT = "exports"


class InvalidLinkError(Exception):
    """Malformed, tampered with, expired, or of another kind. Says nothing about whom."""


@dataclass(frozen=True)
class LinkClaims:
    kind: LinkKind
    customer_id: uuid.UUID
    # preferences: the customer's token_version when the link was made.
    version: int | None = None
    # unsubscribe and confirm: what the link is about (`categories`: every category an
    # unsubscribe link withdraws, `category` the first).
    category: str | None = None
    categories: tuple[str, ...] = ()
    channel: str | None = None
    # confirm: the PENDING ledger entry it confirms.
    entry_id: uuid.UUID | None = None
    issued_at: int = 0
    # unsubscribe: the delivery that carried the link, when it names one.
    delivery_id: uuid.UUID | None = None


class LinkSigner:
    """Makes and reads customer links under TIDINGS_PUBLIC_URL."""

    def __init__(self, secret_key: str, public_url: str, preference_ttl: int) -> None:
        self._key = derive_key(secret_key, _KEY_LABEL).hex()
        self._mac = hmac.new(self._key.encode(), digestmod=hashlib.sha256)
        self.public_url = public_url.rstrip("/")
        self.preference_ttl = preference_ttl

    def __repr__(self) -> str:
        return f"<LinkSigner {self.public_url}>"

    # Making ----------------------------------------------------------------------------------

    def preferences_token(self, customer_id: uuid.UUID, version: int) -> str:
        now = int(time.time())
        return self._encode(
            LinkKind.PREFERENCES,
            customer_id,
            {"ver": version, "exp": now + self.preference_ttl},
            now,
        )

    def unsubscribe_token(
        self,
        customer_id: uuid.UUID,
        category: str | Sequence[str],
        channel: str,
        delivery_id: uuid.UUID | None = None,
    ) -> str:
        """One category, or several for a digest that stands for them all (one click then
        withdraws each). `delivery_id`: the delivery carrying the link, which the stats
        credit with the unsubscribe."""
        if not isinstance(category, str):
            names = sorted(set(category))
            category = names[0] if len(names) == 1 else names  # type: ignore[assignment]
        extra: dict = {"cat": category, "chn": channel}
        if delivery_id is not None:
            extra["dlv"] = str(delivery_id)
        return self._encode(LinkKind.UNSUBSCRIBE, customer_id, extra, int(time.time()))

    def confirm_token(
        self, customer_id: uuid.UUID, category: str, channel: str, entry_id: uuid.UUID
    ) -> str:
        now = int(time.time())
        return self._encode(
            LinkKind.CONFIRM,
            customer_id,
            {
                "cat": category,
                "chn": channel,
                "ent": str(entry_id),
                "exp": now + self.preference_ttl,
            },
            now,
        )

    def preferences_url(self, customer_id: uuid.UUID, version: int) -> str:
        return self.url(LinkKind.PREFERENCES, self.preferences_token(customer_id, version))

    def unsubscribe_url(
        self, customer_id: uuid.UUID, category: str | Sequence[str], channel: str
    ) -> str:
        return self.url(
            LinkKind.UNSUBSCRIBE, self.unsubscribe_token(customer_id, category, channel)
        )

    def confirm_url(
        self, customer_id: uuid.UUID, category: str, channel: str, entry_id: uuid.UUID
    ) -> str:
        return self.url(
            LinkKind.CONFIRM, self.confirm_token(customer_id, category, channel, entry_id)
        )

    def export_url(self, customer_id: uuid.UUID) -> str:
        """A link to download the customer's data export, valid for EXPORT_TTL."""
        now = int(time.time())
        token = self._encode(LinkKind.EXPORT, customer_id, {"exp": now + EXPORT_TTL}, now)
        return self.url(LinkKind.EXPORT, token)

    def export_customer(self, token: str) -> uuid.UUID | None:
        """The customer an export link is for, or None when it is invalid or expired."""
        try:
            return self.verify(token, LinkKind.EXPORT).customer_id
        except InvalidLinkError:
            return None

    def url(self, kind: LinkKind, token: str) -> str:
        return f"{self.public_url}/{kind.value}/{quote(token, safe='')}"

    # Reading ---------------------------------------------------------------------------------

    def verify(self, token: str, kind: LinkKind) -> LinkClaims:
        """The claims of a link of `kind`, or InvalidLinkError."""
        required = ["iat", "sub", "typ", "iss"]
        if kind is not LinkKind.UNSUBSCRIBE:
            required.append("exp")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": required},
            )
            if claims["typ"] != kind.value:
                raise InvalidLinkError("not a link of this kind")
            categories: tuple[str, ...] = ()
            scoped = kind in (LinkKind.UNSUBSCRIBE, LinkKind.CONFIRM)
            if scoped:
                raw = claims["cat"]
                categories = (raw,) if isinstance(raw, str) else tuple(raw)
                if not categories or not all(isinstance(c, str) for c in categories):
                    raise InvalidLinkError("no category")
                if kind is LinkKind.CONFIRM and len(categories) != 1:
                    raise InvalidLinkError("one category")
            return LinkClaims(
                kind=kind,
                customer_id=uuid.UUID(claims["sub"]),
                version=int(claims["ver"]) if kind is LinkKind.PREFERENCES else None,
                category=categories[0] if categories else None,
                categories=categories,
                channel=str(claims["chn"]) if scoped else None,
                entry_id=uuid.UUID(claims["ent"]) if kind is LinkKind.CONFIRM else None,
                issued_at=int(claims["iat"]),
                delivery_id=uuid.UUID(claims["dlv"])
                if kind is LinkKind.UNSUBSCRIBE and "dlv" in claims
                else None,
            )
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError):
            raise InvalidLinkError("invalid or expired link") from None

    def _encode(self, kind: LinkKind, customer_id: uuid.UUID, extra: dict, now: int) -> str:
        claims = {"iss": ISSUER, "typ": kind.value, "sub": str(customer_id), "iat": now, **extra}
        return hs256(claims, self._mac)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


_HS256_HEADER = _b64(b'{"alg":"HS256","typ":"JWT"}')  # PyJWT's, its keys sorted


def hs256(claims: dict, mac: hmac.HMAC) -> str:
    """The token `jwt.encode(claims, key, algorithm="HS256")` makes, byte for byte, with the
    key's HMAC prepared once (`mac`, copied per token): PyJWT checks the key's format on
    every call, about half its cost, and a batch of sends signs two links a delivery.
    `verify` reads them with PyJWT; tests/core/test_links.py holds the two alike."""
    signing_input = _HS256_HEADER + b"." + _b64(json.dumps(claims, separators=(",", ":")).encode())
    signer = mac.copy()
    signer.update(signing_input)
    return (signing_input + b"." + _b64(signer.digest())).decode("ascii")
