"""What a provider's answers mean for a delivery: one outcome per delivery, from its
messages' results (several for push, one per device)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tidings.core.delivery.outbound import Prepared, Problem
from tidings.core.delivery.registry import SendObserver
from tidings.core.enums import DeliveryReason, DeliveryStatus
from tidings.plugins.errors import (
    DeliveryError,
    InvalidAddressError,
    PermanentDeliveryError,
    ProviderUnavailableError,
    TransientDeliveryError,
)
from tidings.plugins.interface import OutboundMessage, Provider, SendResult

logger = logging.getLogger("tidings.delivery")


@dataclass
class Outcome:
    status: DeliveryStatus
    reason: DeliveryReason | None = None
    provider: str | None = None
    provider_id: str | None = None
    error: str | None = None
    retry_after: float | None = None
    invalid_devices: list[uuid.UUID] = field(default_factory=list)
    # The provider was down (every answer ProviderUnavailableError): not the message's fault.
    unavailable: bool = False
    # Held back by a provider's circuit breaker: QUEUED again at this time, no attempt spent.
    hold_until: datetime | None = None


def problem_outcome(problem: Problem) -> Outcome:
    """A delivery that cannot be handed to a provider: no address left (the customer changed
    since the decision), or content that cannot be made (refused for good: REJECTED, with the
    cause in `last_error` for an admin to fix)."""
    if problem.reason is DeliveryReason.NO_ADDRESS:
        return Outcome(DeliveryStatus.SUPPRESSED, DeliveryReason.NO_ADDRESS)
    return Outcome(DeliveryStatus.FAILED, problem.reason, error=problem.detail)


async def send_all(
    provider: Provider, batch: list[OutboundMessage], observer: SendObserver | None = None
) -> list[SendResult]:
    """Send in chunks of the provider's max_batch; a raised error fails its whole chunk.
    `observer` is told of each chunk's time and results (metrics)."""
    results: list[SendResult] = []
    size = max(1, int(provider.max_batch))
    for start in range(0, len(batch), size):
        chunk = batch[start : start + size]
        started = time.perf_counter()
        try:
            answered = list(await provider.send(chunk))
            if len(answered) != len(chunk):
                raise TransientDeliveryError("provider returned a wrong number of results")
        except DeliveryError as error:
            answered = [SendResult(ok=False, error=error)] * len(chunk)
        except Exception as error:  # anything else counts as transient (contract)
            # The type and the provider only: the exception's text may hold an address or
            # message text, and logs are no place for personal data.
            logger.warning(
                "provider %s raised %s on a batch of %d; retried as transient",
                provider.name,
                type(error).__name__,
                len(chunk),
            )
            answered = [
                SendResult(ok=False, error=TransientDeliveryError(type(error).__name__))
            ] * len(chunk)
        if observer is not None:
            observer(provider, time.perf_counter() - started, answered)
        results.extend(answered)
    return results


def combine(provider: str, item: Prepared, results: Sequence[SendResult], channel: str) -> Outcome:
    """One delivery's outcome from its messages' results (push: any device reached is enough)."""
    delivered = DeliveryStatus.DELIVERED if channel == "in_app" else DeliveryStatus.SENT
    invalid = [
        device
        for device, result in zip(item.device_ids, results, strict=False)
        if isinstance(result.error, InvalidAddressError)
    ]
    ok = [r for r in results if r.ok]
    if ok:
        return Outcome(delivered, None, provider, ok[0].provider_id, invalid_devices=invalid)
    errors = [r.error for r in results]
    if all(isinstance(e, InvalidAddressError) for e in errors):
        return Outcome(
            DeliveryStatus.FAILED,
            DeliveryReason.INVALID_ADDRESS,
            provider,
            error=_message(errors),
            invalid_devices=invalid,
        )
    if all(isinstance(e, ProviderUnavailableError) for e in errors):
        return Outcome(
            DeliveryStatus.QUEUED,
            None,
            provider,
            error=_message(errors),
            unavailable=True,
            invalid_devices=invalid,
        )
    transient = [e for e in errors if isinstance(e, TransientDeliveryError)]
    if transient:
        after = max((e.retry_after or 0 for e in transient), default=0) or None
        return Outcome(
            DeliveryStatus.QUEUED,
            None,
            provider,
            error=_message(errors),
            retry_after=after,
            invalid_devices=invalid,
        )
    if any(isinstance(e, PermanentDeliveryError) for e in errors):
        return Outcome(
            DeliveryStatus.FAILED,
            DeliveryReason.REJECTED,
            provider,
            error=_message(errors),
            invalid_devices=invalid,
        )
    return Outcome(
        DeliveryStatus.QUEUED, None, provider, error=_message(errors), invalid_devices=invalid
    )


def breaker_counts(results: Sequence[SendResult]) -> tuple[int, int]:
    """(answered, unavailable) among a provider's results, for its circuit breaker: an answer
    of any kind, a refusal included, shows the provider is up."""
    unavailable = sum(isinstance(r.error, ProviderUnavailableError) for r in results)
    return len(results) - unavailable, unavailable


def _message(errors: Sequence[DeliveryError | None]) -> str:
    first = next((e for e in errors if e is not None), None)
    if first is None:
        return "unknown error"
    return f"{type(first).__name__}: {first.message}"[:1000]
