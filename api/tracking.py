"""Engagement tracking endpoints (issue 12, item 9), under TIDINGS_PUBLIC_URL:

- `GET /t/o/<token>.gif`: the open pixel. A valid token answers a 1x1 transparent GIF,
  never cached, and records the open; a tampered, malformed or foreign token (signed under
  another key, or a click token) answers 404 and records nothing. The pixel is hidden in the
  mail, so a broken image costs the reader nothing.
- `GET /t/c/<token>`: a tracked link. A valid token records the click (and the open, if none
  yet) and answers 302 to the URL the token signs; an invalid one answers 404 with no
  `Location`, so the endpoint can never redirect anywhere Tidings did not sign (no open
  redirect). The delivery need not exist any more: the link in an old mail keeps working.

Both answer whatever TIDINGS_TRACKING says (mail sent before it was turned off keeps working);
when it is off nothing is recorded. Recording never fails the answer: a database hiccup is
logged (without the token) and the reader still gets the pixel or the page. The access log
shows `/t/c/<token>` (api/app.py redacts the token); the responses carry no referrer, are not
cached and are not indexed.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tidings.core.services.engagement import EngagementService
from tidings.core.tracking import InvalidTrackingToken, TrackingSigner
from tidings.plugins.feedback import FeedbackKind

logger = logging.getLogger(__name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
HEADERS = {
    "Cache-Control": "no-store, max-age=0",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
}
NOT_FOUND = b"Not found"
# Characters a URL may carry as they are (RFC 3986 reserved and unreserved, and `%`).
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


def _not_found() -> Response:
    return Response(NOT_FOUND, status_code=404, media_type="text/plain", headers=HEADERS)


class TrackingEndpoints:
    def __init__(self, signer: TrackingSigner, engagement: EngagementService) -> None:
        self.signer = signer
        self.engagement = engagement

    async def open(self, request: Request) -> Response:
        try:
            delivery_id = self.signer.read_open(request.path_params["token"])
        except InvalidTrackingToken:
            return _not_found()
        if request.method == "GET":  # a HEAD is a scanner's, not a reader's
            await self._record(self.engagement.tracked(delivery_id, FeedbackKind.OPENED))
        return Response(PIXEL, media_type="image/gif", headers=HEADERS)

    async def click(self, request: Request) -> Response:
        try:
            delivery_id, url = self.signer.read_click(request.path_params["token"])
        except InvalidTrackingToken:
            return _not_found()
        if request.method == "GET":
            await self._record(self.engagement.tracked(delivery_id, FeedbackKind.CLICKED, url))
        # Percent-encoded as a header needs it: no raw non-ASCII, no line breaks.
        location = quote(url, safe=_URL_SAFE)
        return Response(status_code=302, headers={**HEADERS, "Location": location})

    async def _record(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception as error:  # the reader still gets the pixel or the page
            logger.warning("engagement not recorded (%s)", type(error).__name__)


def tracking_routes(signer: TrackingSigner, engagement: EngagementService) -> list[Route]:
    endpoints = TrackingEndpoints(signer, engagement)
    return [
        Route("/t/o/{token}.gif", endpoints.open, methods=["GET", "HEAD"]),
        Route("/t/c/{token}", endpoints.click, methods=["GET", "HEAD"]),
    ]
