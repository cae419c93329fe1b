"""What a vendor's plugin needs of Tidings, and nothing else: no ORM, no GraphQL."""

import pluggy

from tidings.plugins.durations import parse_duration
from tidings.plugins.errors import (
    DeliveryError,
    InvalidAddressError,
    PermanentDeliveryError,
    ProviderUnavailableError,
    TransientDeliveryError,
)
from tidings.plugins.feedback import Feedback, FeedbackKind, FeedbackRejected, FeedbackRequest
from tidings.plugins.interface import OutboundMessage, Provider, SendResult
from tidings.plugins.secret import Secret

hookimpl = pluggy.HookimplMarker("tidings")

__all__ = [
    "DeliveryError",
    "Feedback",
    "FeedbackKind",
    "FeedbackRejected",
    "FeedbackRequest",
    "InvalidAddressError",
    "OutboundMessage",
    "PermanentDeliveryError",
    "Provider",
    "ProviderUnavailableError",
    "Secret",
    "SendResult",
    "TransientDeliveryError",
    "hookimpl",
    "parse_duration",
]
