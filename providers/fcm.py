"""The built-in push provider: Firebase Cloud Messaging through firebase-admin.

Each provider has a Firebase app of its own (a unique name), built from the service-account
JSON at TIDINGS_FCM_CREDENTIALS, and its send URL points at TIDINGS_FCM_ENDPOINT. The
address is the device's registration token. firebase-admin itself retries 500 and 503 up
to four times with backoff before an answer reaches us; what still fails is transient.

The delivery id travels in `data["delivery_id"]`, as the Android notification `tag` and as
the APNs `apns-collapse-id`, so a retried push replaces rather than duplicates a shown one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import firebase_admin
import google.auth.exceptions
import google.auth.transport.requests
from firebase_admin import credentials, exceptions, messaging

from tidings.plugins import (
    DeliveryError,
    InvalidAddressError,
    OutboundMessage,
    PermanentDeliveryError,
    ProviderUnavailableError,
    SendResult,
    TransientDeliveryError,
    hookimpl,
)
from tidings.providers._common import duration_setting, parse_retry_after, scrub, setting

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://fcm.googleapis.com"
FCM_BATCH_LIMIT = 500  # send_each_async refuses more
# firebase-admin's httpx pool holds 100 connections, and httpcore's queue costs
# O(queued x connections) per step: 500 queued requests burn seconds of loop time. Calls of
# 100 keep the pool full without a queue.
IN_FLIGHT = 100
QUOTA_BACKOFF = 60.0  # FCM asks for at least a minute after QUOTA_EXCEEDED
RESERVED_DATA_KEYS = frozenset({"from", "message_type", "notification"})
RESERVED_DATA_PREFIXES = ("google.", "gcm.")


@dataclass(frozen=True)
class FcmSettings:
    """TIDINGS_FCM_*: the service-account file (its content is the secret) and the API base."""

    credentials_path: str
    endpoint: str = DEFAULT_ENDPOINT
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> FcmSettings | None:
        path = setting(config, "TIDINGS_FCM_CREDENTIALS")
        if path is None:
            return None
        endpoint = (setting(config, "TIDINGS_FCM_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        if not endpoint.startswith(("https://", "http://")):
            raise ValueError("TIDINGS_FCM_ENDPOINT must be an http(s) URL")
        return cls(
            credentials_path=path,
            endpoint=endpoint,
            timeout=duration_setting(config, "TIDINGS_FCM_TIMEOUT", 30.0),
        )


def data_strings(message: OutboundMessage) -> dict[str, str]:
    """FCM data holds strings only: convert values, drop keys FCM reserves, add the id."""
    data: dict[str, str] = {}
    for key, value in message.data.items():
        key = str(key)
        if key in RESERVED_DATA_KEYS or key.startswith(RESERVED_DATA_PREFIXES):
            logger.warning("fcm: data key %r is reserved by FCM and was left out", key)
            continue
        data[key] = _as_string(value)
    data["delivery_id"] = message.delivery_id
    return data


def _as_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), default=str)


def build_message(message: OutboundMessage) -> messaging.Message:
    """The FCM message for a delivery, addressed to its registration token."""
    fcm_message = messaging.Message(
        data=data_strings(message),
        notification=messaging.Notification(title=message.title or None, body=message.body),
        android=messaging.AndroidConfig(
            notification=messaging.AndroidNotification(tag=message.delivery_id)
        ),
        apns=messaging.APNSConfig(
            headers={"apns-collapse-id": message.delivery_id}
            if len(message.delivery_id.encode()) <= 64
            else None
        ),
    )
    # Our addresses are registration tokens, which the v1 API takes as `token`; `fid` is
    # for installation ids. Since 7.5 the `token=` argument warns; the attribute does not,
    # and setting it leaves the process-wide warning filters alone.
    fcm_message.token = message.address
    return fcm_message


def classify_error(error: Exception, token: str) -> DeliveryError:
    """Map a firebase-admin error onto our error classes."""
    detail = scrub(f"{type(error).__name__}: {error}", token)
    if isinstance(error, messaging.UnregisteredError | messaging.SenderIdMismatchError):
        return InvalidAddressError(detail)
    if isinstance(error, messaging.QuotaExceededError):
        response = getattr(error, "http_response", None)
        hinted = parse_retry_after(response.headers.get("Retry-After") if response else None)
        return TransientDeliveryError(detail, retry_after=max(QUOTA_BACKOFF, hinted or 0.0))
    if isinstance(error, messaging.ThirdPartyAuthError):
        return PermanentDeliveryError(detail)
    if isinstance(error, exceptions.InvalidArgumentError):
        return (
            InvalidAddressError(detail) if _about_token(error) else PermanentDeliveryError(detail)
        )
    if isinstance(error, exceptions.UnauthenticatedError | exceptions.PermissionDeniedError):
        # Our service account was refused: every push would be, so hold them, don't burn them.
        return TransientDeliveryError(f"{detail} (check TIDINGS_FCM_CREDENTIALS)")
    if isinstance(
        error,
        exceptions.UnavailableError | exceptions.InternalError | exceptions.DeadlineExceededError,
    ):  # FCM itself is down or slow (5xx, timeouts), whatever the message
        return ProviderUnavailableError(detail)
    if isinstance(
        error,
        exceptions.ResourceExhaustedError | exceptions.UnknownError | exceptions.AbortedError,
    ):
        return TransientDeliveryError(detail)
    if isinstance(error, exceptions.FirebaseError):
        return PermanentDeliveryError(detail)
    return TransientDeliveryError(detail)


def _about_token(error: exceptions.FirebaseError) -> bool:
    if "registration token" in str(error).lower():
        return True
    response = error.http_response
    try:
        details = response.json()["error"]["details"] if response is not None else []
    except (ValueError, KeyError, TypeError):
        return False
    for detail in details if isinstance(details, list) else []:
        for violation in detail.get("fieldViolations", []) if isinstance(detail, dict) else []:
            if isinstance(violation, dict) and violation.get("field") == "message.token":
                return True
    return False


class FcmPushProvider:
    """Push notifications through FCM's v1 API: up to 500 a batch, sent 100 at a time."""

    name = "fcm"
    channel = "push"
    max_batch = FCM_BATCH_LIMIT

    def __init__(self, settings: FcmSettings) -> None:
        self.settings = settings
        self._app: firebase_admin.App | None = None
        self._service: Any = None

    def __repr__(self) -> str:
        return f"<FcmPushProvider {self.settings.endpoint}>"

    async def start(self) -> None:
        certificate = await asyncio.to_thread(
            credentials.Certificate, self.settings.credentials_path
        )
        self._app = firebase_admin.initialize_app(
            certificate,
            options={"httpTimeout": self.settings.timeout},
            name=f"tidings-fcm-{uuid.uuid4().hex}",
        )
        # firebase-admin builds its send URL from a class constant; point this app's own
        # messaging service at our endpoint, and refuse to run if that hook has moved
        # rather than silently talking to Google.
        service = messaging._get_messaging_service(self._app)
        if not isinstance(getattr(service, "_fcm_url", None), str):
            raise RuntimeError("this firebase-admin version has no per-app FCM URL to set")
        service._fcm_url = (
            f"{self.settings.endpoint}/v1/projects/{self._app.project_id}/messages:send"
        )
        self._service = service

    async def send(self, batch: Sequence[OutboundMessage]) -> Sequence[SendResult]:
        if self._app is None:
            raise RuntimeError("FcmPushProvider.send() before start()")
        await self._ensure_token()
        results: list[SendResult] = []
        for start in range(0, len(batch), IN_FLIGHT):
            results.extend(await self._send_chunk(batch[start : start + IN_FLIGHT]))
        return results

    async def aclose(self) -> None:
        app, self._app = self._app, None
        if app is None:
            return
        await self._service._async_client.aclose()  # bound to this loop: close it here
        await asyncio.to_thread(firebase_admin.delete_app, app)  # it calls asyncio.run()

    async def _ensure_token(self) -> None:
        """Refresh the OAuth token in a thread: google-auth's refresh is blocking I/O, which
        firebase-admin would otherwise do on the event loop."""
        assert self._app is not None
        credential = self._app.credential.get_credential()
        if credential.valid:
            return
        try:
            await asyncio.to_thread(credential.refresh, google.auth.transport.requests.Request())
        except google.auth.exceptions.GoogleAuthError as exc:
            detail = scrub(f"{type(exc).__name__}: {exc}")
            raise TransientDeliveryError(f"cannot get an FCM access token: {detail}") from None

    async def _send_chunk(self, chunk: Sequence[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(chunk)
        outgoing: list[messaging.Message] = []
        positions: list[int] = []
        for index, message in enumerate(chunk):
            if not message.address.strip():
                results[index] = SendResult(ok=False, error=InvalidAddressError("empty token"))
                continue
            try:
                fcm_message = build_message(message)
                str(fcm_message)  # encodes and validates, so one bad message fails alone
            except ValueError as exc:
                error = PermanentDeliveryError(
                    scrub(f"invalid push message: {exc}", message.address)
                )
                results[index] = SendResult(ok=False, error=error)
                continue
            outgoing.append(fcm_message)
            positions.append(index)
        if outgoing:
            try:
                response = await messaging.send_each_async(outgoing, app=self._app)
            except exceptions.FirebaseError as exc:
                raise ProviderUnavailableError(scrub(f"{type(exc).__name__}: {exc}")) from None
            for index, answer in zip(positions, response.responses, strict=True):
                message = chunk[index]
                if answer.success:
                    results[index] = SendResult(ok=True, provider_id=answer.message_id)
                else:
                    error = classify_error(answer.exception, message.address)
                    results[index] = SendResult(ok=False, error=error)
        return [result for result in results if result is not None]


@hookimpl
def tidings_providers(config: Mapping[str, str]) -> list[FcmPushProvider]:
    settings = FcmSettings.from_config(config)
    return [FcmPushProvider(settings)] if settings is not None else []
