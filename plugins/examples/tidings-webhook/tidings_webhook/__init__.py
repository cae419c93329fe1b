"""An example provider plugin: POSTs each message as signed JSON to the customer's webhook,
and takes the receiver's signed receipts back through `feedback`."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import datetime

import httpx

from tidings.plugins import (
    Feedback,
    FeedbackKind,
    FeedbackRejected,
    FeedbackRequest,
    InvalidAddressError,
    OutboundMessage,
    PermanentDeliveryError,
    SendResult,
    TransientDeliveryError,
    hookimpl,
    parse_duration,
)


class WebhookProvider:
    name = "webhook"
    channel = "webhook"
    max_batch = 50

    def __init__(self, config: Mapping[str, str]) -> None:
        self._secret = config["TIDINGS_WEBHOOK_SECRET"].encode()
        self.timeout = parse_duration(
            config.get("TIDINGS_WEBHOOK_TIMEOUT", "10"), "TIDINGS_WEBHOOK_TIMEOUT"
        )
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return "<WebhookProvider>"

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.timeout)

    async def send(self, batch: Sequence[OutboundMessage]) -> Sequence[SendResult]:
        assert self._client is not None, "start() first"
        return [await self._send_one(message) for message in batch]

    async def _send_one(self, message: OutboundMessage) -> SendResult:
        if not message.address.startswith(("https://", "http://")):
            return SendResult(ok=False, error=InvalidAddressError("not an http(s) URL"))
        body = json.dumps(
            {
                "id": message.delivery_id,
                "message": message.message_id,
                "category": message.category,
                "title": message.title,
                "body": message.body,
                "data": dict(message.data),
                "locale": message.locale,
            },
            sort_keys=True,
        ).encode()
        signature = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        try:
            response = await self._client.post(  # type: ignore[union-attr]
                message.address,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": message.delivery_id,
                    "X-Tidings-Signature": f"sha256={signature}",
                },
            )
        except httpx.HTTPError as error:
            return SendResult(ok=False, error=TransientDeliveryError(type(error).__name__))
        if response.status_code < 300:
            return SendResult(ok=True, provider_id=response.headers.get("x-request-id"))
        if response.status_code in (404, 410):
            return SendResult(ok=False, error=InvalidAddressError(f"HTTP {response.status_code}"))
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("retry-after")
            return SendResult(
                ok=False,
                error=TransientDeliveryError(
                    f"HTTP {response.status_code}",
                    retry_after=float(retry_after)
                    if retry_after and retry_after.isdigit()
                    else None,
                ),
            )
        return SendResult(ok=False, error=PermanentDeliveryError(f"HTTP {response.status_code}"))

    async def feedback(self, request: FeedbackRequest) -> list[Feedback]:
        """The receiver reports back at `POST /feedback/webhook`, signed as we sign to it:
        `{"id": "<delivery id>", "event": "delivered" | "opened" | "clicked", "at": ISO}`,
        or a list of them."""
        signature = hmac.new(self._secret, request.body, hashlib.sha256).hexdigest()
        given = request.headers.get("x-tidings-signature", "")
        if not hmac.compare_digest(given.encode(), f"sha256={signature}".encode()):
            raise FeedbackRejected("bad or missing X-Tidings-Signature")
        items = json.loads(request.body)
        return [
            Feedback(
                kind=FeedbackKind(item["event"].upper()),
                delivery_id=str(item["id"]),
                at=datetime.fromisoformat(item["at"]) if item.get("at") else None,
            )
            for item in (items if isinstance(items, list) else [items])
        ]

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


@hookimpl
def tidings_providers(config: Mapping[str, str]) -> list[WebhookProvider]:
    return [WebhookProvider(config)] if config.get("TIDINGS_WEBHOOK_SECRET") else []
