"""`POST /feedback/<provider>`: a vendor's receipts, bounces, complaints, engagement and
replies, handed to that provider's `feedback` method and recorded (core/delivery/feedback.py).

Unknown provider, or one without `feedback`: 404. A request the provider cannot verify
(`FeedbackRejected`): 401, nothing recorded. A request it cannot read (it raised anything
else): 400, nothing recorded, nothing of the body logged. Otherwise 200 with counts.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tidings.core.delivery.feedback import FeedbackRecorder
from tidings.core.delivery.registry import ProviderRegistry
from tidings.plugins.feedback import Feedback, FeedbackRejected, FeedbackRequest

logger = logging.getLogger(__name__)


class FeedbackEndpoint:
    def __init__(self, registry: ProviderRegistry, recorder: FeedbackRecorder) -> None:
        self.providers = {
            provider.name: provider
            for provider in registry.providers
            if callable(getattr(provider, "feedback", None))
        }
        self.recorder = recorder

    async def handle(self, request: Request) -> JSONResponse:
        name = request.path_params["provider"]
        provider = self.providers.get(name)
        if provider is None:
            return JSONResponse({"error": "no such provider takes feedback"}, status_code=404)
        incoming = FeedbackRequest(
            method=request.method,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query_params),
            body=await request.body(),
        )
        try:
            items = await provider.feedback(incoming)
        except FeedbackRejected:
            logger.warning("feedback for %s refused: the request could not be verified", name)
            return JSONResponse({"error": "unverified"}, status_code=401)
        except Exception as error:  # the vendor's body did not parse: say so, keep nothing
            logger.warning("feedback for %s unreadable (%s)", name, type(error).__name__)
            return JSONResponse({"error": "unreadable feedback"}, status_code=400)
        if not isinstance(items, list) or not all(isinstance(i, Feedback) for i in items):
            logger.warning("feedback for %s: the provider returned no list of Feedback", name)
            return JSONResponse({"error": "unreadable feedback"}, status_code=400)
        result = await self.recorder.record(name, items)
        return JSONResponse(
            {
                "recorded": result.recorded,
                "duplicates": result.duplicates,
                "unmatched": result.unmatched,
            }
        )


def feedback_routes(registry: ProviderRegistry, recorder: FeedbackRecorder) -> list[Route]:
    endpoint = FeedbackEndpoint(registry, recorder)
    return [Route("/feedback/{provider}", endpoint.handle, methods=["POST"])]
