"""The errors a provider reports. Messages are kept for admins, never shown to customers."""

from __future__ import annotations


class DeliveryError(Exception):
    """Base class: a delivery failed."""

    code = "FAILED"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class TransientDeliveryError(DeliveryError):
    """Try again later, with backoff; `retry_after` (seconds) when the vendor says when."""

    code = "TRANSIENT"

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderUnavailableError(TransientDeliveryError):
    """The provider itself cannot take messages now (connection refused, a timeout, SMTP 421,
    an HTTP API's 5xx): nothing is wrong with the message. Tidings opens the provider's
    circuit breaker: its deliveries wait, without spending attempts, while it is probed."""

    code = "UNAVAILABLE"


class PermanentDeliveryError(DeliveryError):
    """Refused for good: the delivery fails at once with `REJECTED`."""

    code = "REJECTED"


class InvalidAddressError(PermanentDeliveryError):
    """The address or device does not exist: fails with `INVALID_ADDRESS`, and it is retired."""

    code = "INVALID_ADDRESS"
