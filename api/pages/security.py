"""What keeps the customer pages safe to put in a mail: headers, CSRF, evidence.

The token is in the URL, so no page may leak it (no referrer, no caching, no indexing, no
framing). A form POST carries a hidden field derived from the link token with a server key
(HMAC), compared in constant time, and is refused when the browser says it came from another
site: an Origin other than TIDINGS_PUBLIC_URL's, or `Sec-Fetch-Site: cross-site`. `Origin:
null` counts as absent: a browser sends it for a same-origin form under `Referrer-Policy:
no-referrer` (Fetch, "append a request Origin header"); the CSRF field still has to match.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import urlsplit

from starlette.requests import Request

from tidings.core.services.preference_page import PAGE_VERSION

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Robots-Tag": "noindex",
}
_CSRF_LABEL = b"tidings page forms v1"
MAX_USER_AGENT = 512


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Csrf:
    """The hidden form field for a link token, and the checks a POST must pass."""

    def __init__(self, secret_key: str, public_url: str) -> None:
        self._key = hmac.new(secret_key.encode(), _CSRF_LABEL, hashlib.sha256).digest()
        self.origin = origin_of(public_url)

    def __repr__(self) -> str:
        return f"<Csrf {self.origin}>"

    def field(self, token: str) -> str:
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()

    def same_site(self, request: Request) -> bool:
        """False when the browser says the request came from another site."""
        origin = request.headers.get("origin")
        if origin and origin != "null" and origin.lower() != self.origin:
            return False
        return request.headers.get("sec-fetch-site", "").lower() != "cross-site"

    def valid(self, token: str, submitted: object) -> bool:
        return isinstance(submitted, str) and hmac.compare_digest(
            self.field(token).encode(), submitted.encode()
        )


def evidence(request: Request) -> dict:
    """What the ledger keeps of how a change was made on a page."""
    return {
        "at": datetime.now(UTC).isoformat(),
        "ip": request.client.host if request.client else None,
        "userAgent": request.headers.get("user-agent", "")[:MAX_USER_AGENT],
        "pageVersion": PAGE_VERSION,
    }
