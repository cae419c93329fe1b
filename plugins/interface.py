"""The provider interface and what passes through it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from tidings.plugins.errors import DeliveryError


@dataclass(frozen=True)
class OutboundMessage:
    """One message for one address. `delivery_id` is stable across retries: pass it on as the
    vendor's idempotency key.

    `data` is the caller's data plus the links Tidings adds, whose names are Tidings' own (a
    caller's value under them is replaced or dropped); show them where the channel allows:

    - `preferences_url`: the customer's preference page (no login; expires). Every message.
    - `unsubscribe_url`: one click (a POST, or the page a GET shows) withdraws this category
      on this channel. Only on a MARKETING category's messages, never on transactional ones.
    - `unsubscribe_mailto`: `mailto:` URL doing the same by mail. Email only, when the
      operator set TIDINGS_UNSUBSCRIBE_MAILTO.
    """

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

    # Optional, not part of the protocol's check: a provider that takes its vendor's reports
    # (receipts, bounces, complaints, opens, clicks, replies) at `POST /feedback/<name>`
    # implements `async def feedback(self, request: FeedbackRequest) -> list[Feedback]`
    # (tidings.plugins.feedback).
    #
    # Optional too: `reports_receipts: ClassVar[bool] = True` on a provider whose vendor
    # confirms delivery (receipts through `feedback`). Absent means False: the stats then
    # count a sent message as delivered unless it bounced or failed (`receiptsReported`).
