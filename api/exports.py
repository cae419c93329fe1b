"""`GET /exports/<token>`: a customer's data export, downloaded through the signed link
`exportCustomerData` returns (valid a day). The document is built again on each download,
never stored; an invalid or expired link, or an erased customer, gets the pages' 404."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tidings.core.services.export import ExportService

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
}


def export_route(exports: ExportService, invalid: Callable[[Request], Response]) -> Route:
    async def download(request: Request) -> Response:
        found = await exports.download(request.path_params["token"])
        if found is None:
            return invalid(request)
        customer_id, document = found
        body = json.dumps(document, ensure_ascii=False, indent=2)
        disposition = f'attachment; filename="tidings-export-{customer_id}.json"'
        return Response(
            body,
            media_type="application/json",
            headers={**HEADERS, "Content-Disposition": disposition},
        )

    handler: Callable[[Request], Awaitable[Response]] = download
    return Route("/exports/{token}", handler, methods=["GET"])
