"""The built-in SMS provider: a generic JSON-over-HTTP SMS API.

Each message is one `POST {TIDINGS_SMS_URL}` with the API key as a Bearer token, the body
`{"to", "from", "body", "reference"}` and the header `Idempotency-Key: <delivery id>`,
so a retried delivery is recognised by the vendor. SMS is text only: the text sent is the
title and the body on two lines, or the body alone when the title is empty.

Answers: 2xx is accepted (`{"id": ...}` becomes the provider id); 429 and 5xx, timeouts
and network errors are transient (Retry-After honoured); a 4xx whose error code is
`invalid_number` retires the number; 401 means our key was refused, which is a problem
of this provider and not of the message, so it is transient too; any other 4xx is
permanent. The error code is read from `{"error": "..."}`, `{"error": {"code": "..."}}`
or `{"code": "..."}`.

A marketing SMS (its data carries `unsubscribe_url`) ends with the opt-out hint in its
language ("Reply STOP to opt out", "回复TD退订"; TIDINGS_SMS_STOP_HINT overrides it). Signed
receipts and replies come back through `feedback` (providers/sms_feedback.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from tidings.plugins import (
    DeliveryError,
    Feedback,
    FeedbackRequest,
    InvalidAddressError,
    OutboundMessage,
    PermanentDeliveryError,
    ProviderUnavailableError,
    SendResult,
    TransientDeliveryError,
    hookimpl,
)
from tidings.providers._common import (
    Secret,
    duration_setting,
    parse_retry_after,
    required_setting,
    scrub,
    setting,
)
from tidings.providers.sms_feedback import parse, verify, with_stop_hint

logger = logging.getLogger(__name__)

INVALID_NUMBER = "invalid_number"
CONCURRENCY = 20


@dataclass(frozen=True)
class HttpSmsSettings:
    """TIDINGS_SMS_*: where to post, with which key, from which sender id; the secret the
    vendor signs its feedback with, and the opt-out hint's override."""

    url: str
    api_key: Secret = field(repr=False)
    sender: str
    timeout: float = 15.0
    webhook_secret: Secret | None = field(default=None, repr=False)
    stop_hint: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> HttpSmsSettings | None:
        url = setting(config, "TIDINGS_SMS_URL")
        if url is None:
            return None
        if not url.startswith(("https://", "http://")):
            raise ValueError("TIDINGS_SMS_URL must be an http(s) URL")
        secret = setting(config, "TIDINGS_SMS_WEBHOOK_SECRET")
        return cls(
            url=url,
            api_key=Secret(required_setting(config, "TIDINGS_SMS_API_KEY", "TIDINGS_SMS_URL")),
            sender=required_setting(config, "TIDINGS_SMS_FROM", "TIDINGS_SMS_URL"),
            timeout=duration_setting(config, "TIDINGS_SMS_TIMEOUT", 15.0),
            webhook_secret=Secret(secret) if secret else None,
            stop_hint=setting(config, "TIDINGS_SMS_STOP_HINT"),
        )


def sms_text(message: OutboundMessage) -> str:
    """Title and body on two lines; the body alone when there is no title."""
    return f"{message.title}\n{message.body}" if message.title.strip() else message.body


def error_code(payload: Any) -> str | None:
    """The vendor's error code from the shapes generic SMS APIs use."""
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if isinstance(error, dict):
        error = error.get("code")
    if error is None:
        error = payload.get("code")
    return str(error) if error is not None else None


def classify_response(response: httpx.Response, *, scrubbed: Sequence[str]) -> DeliveryError:
    """Map a non-2xx answer onto our error classes."""
    status = response.status_code
    try:
        payload = response.json()
    except ValueError:
        payload = None
    code = error_code(payload)
    detail = scrub(f"HTTP {status}" + (f" {code}" if code else ""), *scrubbed)
    if status >= 500:  # the API itself is in trouble, whatever the message
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return ProviderUnavailableError(detail, retry_after=retry_after)
    if status == 429 or status in (408, 409, 425):
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return TransientDeliveryError(detail, retry_after=retry_after)
    if code == INVALID_NUMBER:
        return InvalidAddressError(detail)
    if status == 401:
        return TransientDeliveryError(f"{detail}: the SMS API refused TIDINGS_SMS_API_KEY")
    return PermanentDeliveryError(detail)


class HttpSmsProvider:
    """SMS through a JSON HTTP API, one request per message, up to 20 in flight."""

    name = "http-sms"
    channel = "sms"
    max_batch = 100
    # The vendor's delivery reports arrive at POST /feedback/http-sms.
    reports_receipts = True

    def __init__(self, settings: HttpSmsSettings) -> None:
        self.settings = settings
        self._client: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(CONCURRENCY)

    def __repr__(self) -> str:
        return f"<HttpSmsProvider {self.settings.url}>"

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.settings.timeout,
            headers={"Authorization": f"Bearer {self.settings.api_key.reveal()}"},
            limits=httpx.Limits(max_connections=CONCURRENCY),
        )

    async def send(self, batch: Sequence[OutboundMessage]) -> Sequence[SendResult]:
        if self._client is None:
            raise RuntimeError("HttpSmsProvider.send() before start()")
        client = self._client
        return await asyncio.gather(*(self._deliver(client, message) for message in batch))

    async def feedback(self, request: FeedbackRequest) -> list[Feedback]:
        """Signed receipts and replies (providers/sms_feedback.py); unsigned: FeedbackRejected."""
        verify(request, self.settings.webhook_secret)
        return parse(request.body)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _deliver(self, client: httpx.AsyncClient, message: OutboundMessage) -> SendResult:
        payload = {
            "to": message.address,
            "from": self.settings.sender,
            "body": with_stop_hint(
                sms_text(message), message.data, message.locale, self.settings.stop_hint
            ),
            "reference": message.delivery_id,
        }
        scrubbed = (message.address, self.settings.api_key.reveal())
        async with self._slots:
            try:
                response = await client.post(
                    self.settings.url,
                    json=payload,
                    headers={"Idempotency-Key": message.delivery_id},
                )
            except httpx.HTTPError as exc:
                detail = scrub(f"{type(exc).__name__}: {exc}", *scrubbed)
                return SendResult(ok=False, error=ProviderUnavailableError(detail))
        if response.is_success:
            try:
                body = response.json()
            except ValueError:
                body = None
            provider_id = body.get("id") if isinstance(body, dict) else None
            logger.debug("http-sms: delivery %s accepted", message.delivery_id)
            return SendResult(ok=True, provider_id=str(provider_id) if provider_id else None)
        return SendResult(ok=False, error=classify_response(response, scrubbed=scrubbed))


@hookimpl
def tidings_providers(config: Mapping[str, str]) -> list[HttpSmsProvider]:
    settings = HttpSmsSettings.from_config(config)
    return [HttpSmsProvider(settings)] if settings is not None else []
