"""The built-in email provider: SMTP through aiosmtplib, over a pool of reused connections.

Security is explicit: `starttls` demands the upgrade (a server that hides STARTTLS gets
nothing, never cleartext), `tls` is implicit TLS, `none` is for local relays. The
`Message-ID` is derived from the delivery id, so a retry carries the same id and a
receiving system can recognise the duplicate; it is also the provider id, by which a bounce
or complaint finds its delivery. With TIDINGS_BOUNCE_ADDRESS the envelope sender names the
delivery too (VERP). What comes back is read by providers/smtp_bounces.py, from
`tidings inbound-smtp` or from `POST /feedback/smtp` (raw message, signed with
TIDINGS_SMTP_WEBHOOK_SECRET).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import ssl
from collections.abc import Iterator, Mapping, Sequence
from email.message import EmailMessage

import aiosmtplib

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
from tidings.providers._common import scrub
from tidings.providers.signed_webhooks import verify
from tidings.providers.smtp_bounces import parse_report
from tidings.providers.smtp_compose import compose
from tidings.providers.smtp_pool import SessionSetupError, SmtpPool
from tidings.providers.smtp_settings import ADDRESS, WEBHOOK_SECRET, SmtpSettings
from tidings.providers.smtp_wire import needs_8bitmime, wire

__all__ = ["SmtpEmailProvider", "SmtpSettings", "classify_reply", "message_id"]

logger = logging.getLogger(__name__)

# RCPT replies that mean "this mailbox does not exist" when no enhanced status says otherwise.
UNKNOWN_USER_CODES = frozenset({550, 551, 553})
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_MSGID_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def message_id(delivery_id: str, domain: str) -> str:
    """The `Message-ID` for a delivery: the same for every attempt at it."""
    if _MSGID_SAFE.match(delivery_id):
        return f"<{delivery_id}@{domain}>"
    return f"<{hashlib.sha256(delivery_id.encode()).hexdigest()[:40]}@{domain}>"


def classify_reply(code: int, text: str, *, at_recipient: bool) -> DeliveryError:
    """Map an SMTP reply onto our error classes. `text` must already be scrubbed."""
    detail = f"SMTP {code}: {text}" if text else f"SMTP {code}"
    if code == 421:  # the server is closing the channel: the relay's trouble, not the message's
        return ProviderUnavailableError(detail)
    if 400 <= code < 500:
        return TransientDeliveryError(detail)
    if 500 <= code < 600:
        enhanced = _ENHANCED.match(text)
        if at_recipient:
            if enhanced is not None:
                subject, item = enhanced.group(2), enhanced.group(3)
                if subject == "1" or (subject, item) == ("2", "1"):
                    return InvalidAddressError(detail)
            elif code in UNKNOWN_USER_CODES:
                return InvalidAddressError(detail)
        return PermanentDeliveryError(detail)
    return TransientDeliveryError(f"unexpected {detail}")


class SmtpEmailProvider:
    """Email through one SMTP relay over a pool of reused connections (smtp_pool.py)."""

    name = "smtp"
    channel = "email"
    max_batch = 100  # a worker's whole claim (TIDINGS_WORKER_BATCH_SIZE) spread over the pool

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.pool = SmtpPool(settings, None)

    def __repr__(self) -> str:
        s = self.settings
        return f"<SmtpEmailProvider {s.host}:{s.port} security={s.security}>"

    async def start(self) -> None:
        if self.settings.security != "none":
            self.pool.tls_context = ssl.create_default_context(cafile=self.settings.ca_file)

    async def send(self, batch: Sequence[OutboundMessage]) -> Sequence[SendResult]:
        """Send over up to `pool_size` connections at once, results in the batch's order. The
        first session is opened before the others, so a relay that is down or refuses our
        login is asked once per batch, and every message gets that one answer."""
        results: list[SendResult | None] = [None] * len(batch)
        if not self.pool.has_idle and batch:
            try:
                client, _ = await self.pool.take()
            except SessionSetupError as failed:
                return [SendResult(ok=False, error=failed.error)] * len(batch)
            self.pool.give_back(client, healthy=True, used=False)
        work = iter(enumerate(batch))
        failed: list[DeliveryError] = []
        lanes = min(self.settings.pool_size, len(batch))
        await asyncio.gather(*(self._lane(work, results, failed) for _ in range(lanes)))
        return [r if r is not None else SendResult(ok=False, error=failed[0]) for r in results]

    async def _lane(
        self,
        work: Iterator[tuple[int, OutboundMessage]],
        results: list[SendResult | None],
        failed: list[DeliveryError],
    ) -> None:
        """One connection's share of a batch: messages in turn, each composed while the one
        before it waits on the relay. Stops at the first session that cannot be opened (the
        batch's unsent messages then get that error)."""
        upcoming = self._next(work)
        while upcoming is not None and not failed:
            index, message, ready = upcoming
            if isinstance(ready, SendResult):
                results[index] = ready
                upcoming = self._next(work)
                continue
            task = asyncio.ensure_future(self._deliver(message, ready))
            await asyncio.sleep(0)  # the task puts its first command on the wire
            upcoming = self._next(work)
            try:
                results[index] = await task
            except SessionSetupError as setup:
                failed.append(setup.error)
                results[index] = SendResult(ok=False, error=setup.error)

    def _next(
        self, work: Iterator[tuple[int, OutboundMessage]]
    ) -> tuple[int, OutboundMessage, EmailMessage | bytes | SendResult] | None:
        for index, message in work:
            return index, message, self._prepare(message)
        return None

    def _prepare(self, message: OutboundMessage) -> EmailMessage | bytes | SendResult:
        """The message's bytes (smtp_wire.py), else the composed message, or the result that
        says why it cannot be sent."""
        if not ADDRESS.match(message.address):
            return SendResult(ok=False, error=InvalidAddressError("not an email address"))
        try:
            written = wire(
                message,
                self.settings.sender,
                message_id(message.delivery_id, self.settings.sender_domain),
            )
            return written if written is not None else self.compose(message)
        except ValueError as exc:
            return SendResult(ok=False, error=PermanentDeliveryError(f"cannot compose: {exc}"))

    async def feedback(self, request: FeedbackRequest) -> list[Feedback]:
        """A bounce or complaint an MTA forwards as the raw message, signed; else rejected."""
        verify(request, self.settings.webhook_secret, setting=WEBHOOK_SECRET, what="email")
        return parse_report(request.body, bounce=self.settings.bounce)

    def envelope_sender(self, delivery_id: str) -> str:
        """MAIL FROM: the delivery's VERP address with TIDINGS_BOUNCE_ADDRESS, else From's."""
        bounce = self.settings.bounce
        return bounce.verp(delivery_id) if bounce is not None else self.settings.sender_address

    async def aclose(self) -> None:
        await self.pool.aclose()

    def compose(self, message: OutboundMessage) -> EmailMessage:
        """The MIME message for a delivery (smtp_compose.py: headers, parts, links footer)."""
        return compose(
            message,
            self.settings.sender,
            message_id(message.delivery_id, self.settings.sender_domain),
        )

    async def _deliver(
        self, message: OutboundMessage, composed: EmailMessage | bytes
    ) -> SendResult:
        """One message's conversation on a pooled session. A reused session that fails is
        discarded and the message tried once more on a fresh one: an idle connection the
        relay closed is the common case, and says nothing about the message."""
        for attempt in (1, 2):
            client, reused = await self.pool.take()
            healthy = True
            try:
                provider_id = await self._transmit(client, message, composed)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refused = exc.recipients[0]
                text = scrub(refused.message, message.address)
                return SendResult(
                    ok=False, error=classify_reply(refused.code, text, at_recipient=True)
                )
            except aiosmtplib.SMTPResponseException as exc:
                healthy = exc.code != 421  # the server is closing the channel
                text = scrub(exc.message, message.address)
                return SendResult(
                    ok=False, error=classify_reply(exc.code, text, at_recipient=False)
                )
            except aiosmtplib.SMTPNotSupported as exc:
                return SendResult(ok=False, error=PermanentDeliveryError(str(exc)))
            except (aiosmtplib.SMTPException, OSError) as exc:
                healthy = False
                if reused and attempt == 1:
                    logger.debug(
                        "smtp: pooled connection failed (%s); reconnecting", type(exc).__name__
                    )
                    continue
                detail = scrub(str(exc), message.address, *self._secrets())
                return SendResult(
                    ok=False, error=ProviderUnavailableError(f"connection lost: {detail}")
                )
            finally:
                self.pool.give_back(client, healthy=healthy)
            logger.debug("smtp: delivery %s accepted", message.delivery_id)
            return SendResult(ok=True, provider_id=provider_id)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _transmit(
        self, client: aiosmtplib.SMTP, message: OutboundMessage, composed: EmailMessage | bytes
    ) -> str:
        """Send as `send_message` would: written bytes go as they are, with the MAIL options
        it would give them, once the session has greeted the relay (its extensions are known),
        when the envelope is ASCII and the relay takes the body as it is (8BITMIME, for a raw
        UTF-8 one); else the message is composed and sent by `send_message`.
        Returns the Message-ID, the provider id."""
        sender = self.envelope_sender(message.delivery_id)
        if isinstance(composed, bytes):
            eight_bit = client.supports_extension("8BITMIME")
            greeted = not client.is_ehlo_or_helo_needed
            if greeted and sender.isascii() and (eight_bit or not needs_8bitmime(composed)):
                await client.sendmail(
                    sender,
                    [message.address],
                    composed,
                    mail_options=["BODY=8BITMIME"] if eight_bit else [],
                )
                return message_id(message.delivery_id, self.settings.sender_domain)
            composed = self.compose(message)
        await client.send_message(composed, sender=sender, recipients=[message.address])
        return str(composed["Message-ID"])

    def _secrets(self) -> tuple[str, ...]:
        password = self.settings.password
        return (password.reveal(),) if password is not None else ()


@hookimpl
def tidings_providers(config: Mapping[str, str]) -> list[SmtpEmailProvider]:
    settings = SmtpSettings.from_config(config)
    return [SmtpEmailProvider(settings)] if settings is not None else []
