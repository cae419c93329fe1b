"""Signed, expiring bearer tokens for staff and customers (HS256 JWTs).

A token names its subject and the subject's `token_version`; bumping the version (logout,
role change, "revoke all tokens") revokes every token issued before.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from enum import Enum

import jwt

ISSUER = "tidings"


class TokenKind(str, Enum):
    STAFF = "staff"
    CUSTOMER = "customer"


@dataclass(frozen=True)
class TokenClaims:
    kind: TokenKind
    subject: uuid.UUID
    version: int
    expires_at: int


class InvalidTokenError(Exception):
    """Malformed, tampered with, expired or of an unknown kind. The message names no secret."""


class TokenSigner:
    def __init__(self, secret_key: str, staff_ttl: int, customer_ttl: int) -> None:
        self._key = secret_key
        self._ttl = {TokenKind.STAFF: staff_ttl, TokenKind.CUSTOMER: customer_ttl}

    def __repr__(self) -> str:
        return "<TokenSigner>"

    def issue(self, kind: TokenKind, subject: uuid.UUID, version: int) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "typ": kind.value,
            "sub": str(subject),
            "ver": version,
            "iat": now,
            "exp": now + self._ttl[kind],
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "typ", "ver", "iss"]},
            )
            return TokenClaims(
                kind=TokenKind(claims["typ"]),
                subject=uuid.UUID(claims["sub"]),
                version=int(claims["ver"]),
                expires_at=int(claims["exp"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            raise InvalidTokenError("invalid or expired token") from None
