"""The provider interface and what passes through it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from tidings.plugins.errors import DeliveryError


@dataclass(frozen=True)
class OutboundMessage:
    """One message for one address. `delivery_id` is stable across retries: pass it on as the
    vendor's idempotency key."""

    delivery_id: str
    message_id: str
    channel: str
    category: str
    address: str
    title: str
    body: str
    html: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    locale: str = "en"

    def __repr__(self) -> str:  # the address and content are personal: never in reprs or logs
        return f"<OutboundMessage {self.delivery_id} {self.channel}>"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    provider_id: str | None = None
    error: DeliveryError | None = None


@runtime_checkable
class Provider(Protocol):
    name: ClassVar[str] | str
    channel: ClassVar[str] | str
    max_batch: ClassVar[int] | int

    async def start(self) -> None:
        """Open clients and pools; called once, before the first send."""

    async def send(self, batch: Sequence[OutboundMessage]) -> Sequence[SendResult]:
        """Deliver a batch (at most `max_batch`); one result per message, in order."""

    async def aclose(self) -> None:
        """Release what `start` opened; called on shutdown."""
