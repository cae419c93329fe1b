"""The dashboard's sign-in session and its CSRF fields.

The session is a cookie the server signs (HMAC-SHA256 under a key derived from
TIDINGS_SECRET_KEY for this purpose alone): it names the staff member, the member's
`token_version` when signing in, when it expires and a random nonce. Every request re-reads
the member: a deactivated member, a changed role or password, or a sign-out (all of which
bump `token_version`) ends the session at once. The cookie is HttpOnly, SameSite=Strict, on
Path=/dashboard, and Secure outside development.

CSRF: a form carries an HMAC of the session's nonce (signed in) or of a random pre-session
cookie's nonce (the sign-in form); a POST is refused when it does not match, or when the
browser says it came from another site (Origin, Sec-Fetch-Site), as on the customer pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tidings.api.pages.security import origin_of
from tidings.core.keys import derive_key

COOKIE = "tidings_dashboard"
LOGIN_COOKIE = "tidings_dashboard_login"
PATH = "/dashboard"
LOGIN_TTL = 3600  # seconds the sign-in form stays valid
MAX_COOKIE = 1024


@dataclass(frozen=True)
class SessionClaims:
    staff_id: uuid.UUID
    version: int
    expires_at: int
    nonce: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DashboardSessions:
    """Signs and reads the session cookie; makes and checks the CSRF fields."""

    def __init__(self, secret_key: str, public_url: str, ttl: int, secure: bool) -> None:
        self._sign_key = derive_key(secret_key, b"tidings dashboard session v1")
        self._csrf_key = derive_key(secret_key, b"tidings dashboard csrf v1")
        self.origin = origin_of(public_url)
        self.ttl = ttl
        self.secure = secure

    def __repr__(self) -> str:
        return f"<DashboardSessions {self.origin}>"

    # The session --------------------------------------------------------------------------

    def issue(self, staff_id: uuid.UUID, version: int) -> str:
        body = json.dumps(
            {
                "s": str(staff_id),
                "v": version,
                "e": int(time.time()) + self.ttl,
                "n": secrets.token_urlsafe(16),
            },
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def read(self, request: Request) -> SessionClaims | None:
        """The cookie's claims when it is ours, intact and unexpired; otherwise None."""
        value = request.cookies.get(COOKIE, "")
        if not value or len(value) > MAX_COOKIE or value.count(".") != 1:
            return None
        body_text, mac_text = value.split(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(self._mac(body), mac):
            return None
        try:
            data = json.loads(body)
            claims = SessionClaims(
                uuid.UUID(data["s"]), int(data["v"]), int(data["e"]), str(data["n"])
            )
        except (ValueError, KeyError, TypeError):
            return None
        return claims if claims.expires_at > time.time() else None

    def set_cookie(self, response: Response, value: str) -> None:
        response.set_cookie(
            COOKIE,
            value,
            max_age=self.ttl,
            path=PATH,
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(
            COOKIE, path=PATH, secure=self.secure, httponly=True, samesite="strict"
        )

    # The sign-in form's nonce --------------------------------------------------------------

    def login_nonce(self, request: Request) -> tuple[str, bool]:
        """The pre-session nonce, and whether it is new (to be set as a cookie)."""
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if 16 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum():
            return nonce, False
        return secrets.token_urlsafe(24), True

    def set_login_cookie(self, response: Response, nonce: str) -> None:
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            max_age=LOGIN_TTL,
            path=PATH,
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

    def clear_login_cookie(self, response: Response) -> None:
        response.delete_cookie(
            LOGIN_COOKIE, path=PATH, secure=self.secure, httponly=True, samesite="strict"
        )

    # CSRF ------------------------------------------------------------------------------------

    def csrf(self, nonce: str) -> str:
        return hmac.new(self._csrf_key, nonce.encode(), hashlib.sha256).hexdigest()

    def csrf_valid(self, nonce: str, submitted: object) -> bool:
        return self.matches(self.csrf(nonce), submitted)

    @staticmethod
    def matches(expected: str, submitted: object) -> bool:
        """Whether a submitted field is `expected`, compared in constant time."""
        return isinstance(submitted, str) and hmac.compare_digest(
            expected.encode(), submitted.encode()
        )

    def same_site(self, request: Request) -> bool:
        """False when the browser says the request came from another site."""
        origin = request.headers.get("origin")
        if origin and origin != "null" and origin.lower() != self.origin:
            return False
        return request.headers.get("sec-fetch-site", "").lower() != "cross-site"

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._sign_key, body, hashlib.sha256).digest()
