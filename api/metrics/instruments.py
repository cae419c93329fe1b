"""The metrics one process counts as things happen: provider calls, feedback, open sockets.

Everything here is labelled by values from small fixed sets (provider names, channel names,
error kinds, feedback kinds), never by a customer, an address or a message: the output may
be read by anyone who can reach the scrape, and a label per customer would also grow without
bound.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send

from tidings.plugins.errors import (
    InvalidAddressError,
    PermanentDeliveryError,
    ProviderUnavailableError,
)
from tidings.plugins.feedback import FeedbackKind
from tidings.plugins.interface import Provider, SendResult

# From a local in-app insert (milliseconds) to a vendor's API under load (tens of seconds).
SEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
FEEDBACK_KINDS = frozenset(kind.value.lower() for kind in FeedbackKind)


def error_kind(result: SendResult) -> str:
    """What a failed result's error class means for the delivery, as a label value. (The
    pipeline counts any other exception a provider raises as transient: so does this.)"""
    error = result.error
    if isinstance(error, InvalidAddressError):
        return "invalid_address"
    if isinstance(error, PermanentDeliveryError):
        return "permanent"
    if isinstance(error, ProviderUnavailableError):
        return "unavailable"
    return "transient"


class Instruments:
    """This process's counters and histograms, in the registry the scrape renders."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.send_seconds = Histogram(
            "tidings_provider_send_duration_seconds",
            "Time one provider.send() call took (a batch of up to the provider's max_batch).",
            ["provider", "channel"],
            buckets=SEND_BUCKETS,
            registry=registry,
        )
        self.messages = Counter(
            "tidings_provider_messages",
            "Messages handed to a provider, whatever its answer.",
            ["provider", "channel"],
            registry=registry,
        )
        self.errors = Counter(
            "tidings_provider_errors",
            "Messages a provider did not accept, by error kind: transient, unavailable, "
            "permanent, invalid_address.",
            ["provider", "channel", "error"],
            registry=registry,
        )
        self.feedback = Counter(
            "tidings_feedback",
            "Provider feedback recorded (new, not duplicates), by channel and kind.",
            ["channel", "kind"],
            registry=registry,
        )
        self.open_websockets = 0

    def observe_send(
        self, provider: Provider, seconds: float, results: Sequence[SendResult]
    ) -> None:
        """A `SendObserver` (core/delivery/registry.py) for the process that sends."""
        name, channel = str(provider.name), str(provider.channel)
        self.send_seconds.labels(name, channel).observe(seconds)
        self.messages.labels(name, channel).inc(len(results))
        for result in results:
            if not result.ok:
                self.errors.labels(name, channel, error_kind(result)).inc()

    def count_feedback(self, channel: str, kind: str) -> None:
        """A feedback newly recorded on a delivery of `channel`."""
        label = kind.lower()
        self.feedback.labels(channel, label if label in FEEDBACK_KINDS else "other").inc()


class CountWebsockets:
    """ASGI middleware: the websockets open on this process, counted from their first to
    their last ASGI message, whatever the GraphQL layer above does with them."""

    def __init__(self, app: ASGIApp, instruments: Instruments) -> None:
        self.app = app
        self.instruments = instruments

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        self.instruments.open_websockets += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.instruments.open_websockets -= 1
