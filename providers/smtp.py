"""The built-in email provider: SMTP through aiosmtplib, one reused connection per provider.

Security is explicit: `starttls` demands the upgrade (a server that hides STARTTLS gets
nothing, never cleartext), `tls` is implicit TLS, `none` is for local relays. The
`Message-ID` is derived from the delivery id, so a retry carries the same id and a
receiving system can recognise the duplicate.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import logging
import re
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

import aiosmtplib

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
from tidings.providers._common import (
    Secret,
    duration_setting,
    required_setting,
    scrub,
    setting,
)
from tidings.providers.smtp_compose import compose

logger = logging.getLogger(__name__)

SECURITY_MODES = ("none", "starttls", "tls")
# RCPT replies that mean "this mailbox does not exist" when no enhanced status says otherwise.
UNKNOWN_USER_CODES = frozenset({550, 551, 553})
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
_MSGID_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass(frozen=True)
class SmtpSettings:
    """TIDINGS_SMTP_*: the relay, the From header and how to talk to the relay."""

    host: str
    sender: str  # the From header as configured, e.g. "Shop <news@shop.example>"
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    ca_file: str | None = None  # extra CA bundle for a private relay's certificate
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> SmtpSettings | None:
        """Parsed settings, or `None` when no host is set (the provider stays off)."""
        host = setting(config, "TIDINGS_SMTP_HOST")
        if host is None:
            return None
        security = (setting(config, "TIDINGS_SMTP_SECURITY") or "starttls").lower()
        if security not in SECURITY_MODES:
            raise ValueError(f"TIDINGS_SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}")
        raw_port = setting(config, "TIDINGS_SMTP_PORT")
        if raw_port is None:
            port = 465 if security == "tls" else 587
        elif raw_port.isdigit() and 0 < int(raw_port) < 65536:
            port = int(raw_port)
        else:
            raise ValueError("TIDINGS_SMTP_PORT must be a port number")
        sender = required_setting(config, "TIDINGS_SMTP_FROM", "TIDINGS_SMTP_HOST")
        if not _ADDRESS.match(email.utils.parseaddr(sender)[1]):
            raise ValueError(
                "TIDINGS_SMTP_FROM must be an address, e.g. 'Shop <news@shop.example>'"
            )
        username = setting(config, "TIDINGS_SMTP_USERNAME")
        password = setting(config, "TIDINGS_SMTP_PASSWORD")
        if password is not None and username is None:
            raise ValueError("TIDINGS_SMTP_PASSWORD is set without TIDINGS_SMTP_USERNAME")
        return cls(
            host=host,
            sender=sender,
            port=port,
            security=security,
            username=username,
            password=Secret(password) if password is not None else None,
            ca_file=setting(config, "TIDINGS_SMTP_CA_FILE"),
            timeout=duration_setting(config, "TIDINGS_SMTP_TIMEOUT", 30.0),
        )

    @property
    def sender_address(self) -> str:
        return email.utils.parseaddr(self.sender)[1]

    @property
    def sender_domain(self) -> str:
        return self.sender_address.rpartition("@")[2]


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


class _SetupFailed(Exception):
    """The connection could not be opened: every remaining message gets `error`."""

    def __init__(self, error: DeliveryError) -> None:
        super().__init__(error.message)
        self.error = error


class SmtpEmailProvider:
    """Email through one SMTP relay; a batch reuses one connection, reconnecting if it drops."""

    name = "smtp"
    channel = "email"
    max_batch = 50

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._client: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()
        self._tls_context: ssl.SSLContext | None = None

    def __repr__(self) -> str:
        s = self.settings
        return f"<SmtpEmailProvider {s.host}:{s.port} security={s.security}>"

    async def start(self) -> None:
        if self.settings.security != "none":
            self._tls_context = ssl.create_default_context(cafile=self.settings.ca_file)

    async def send(self, batch: Sequence[OutboundMessage]) -> Sequence[SendResult]:
        """Send in order over the one connection. Each message is composed while the previous
        one's SMTP conversation waits on the server, so composing costs no wall time."""
        results: list[SendResult] = []
        async with self._lock:  # one SMTP conversation at a time on the shared connection
            setup_error: DeliveryError | None = None
            upcoming = self._prepare(batch[0]) if batch else None
            for index, message in enumerate(batch):
                ready, upcoming = upcoming, None
                if setup_error is not None:
                    results.append(SendResult(ok=False, error=setup_error))
                    continue
                if isinstance(ready, SendResult):
                    results.append(ready)
                    if index + 1 < len(batch):
                        upcoming = self._prepare(batch[index + 1])
                    continue
                assert ready is not None
                task = asyncio.ensure_future(self._deliver(message, ready))
                await asyncio.sleep(0)  # the task puts its first command on the wire
                if index + 1 < len(batch):
                    upcoming = self._prepare(batch[index + 1])
                try:
                    results.append(await task)
                except _SetupFailed as failed:
                    setup_error = failed.error
                    results.append(SendResult(ok=False, error=setup_error))
        return results

    def _prepare(self, message: OutboundMessage) -> EmailMessage | SendResult:
        """The composed message, or the result that says why it cannot be sent."""
        if not _ADDRESS.match(message.address):
            return SendResult(ok=False, error=InvalidAddressError("not an email address"))
        try:
            return self.compose(message)
        except ValueError as exc:
            return SendResult(ok=False, error=PermanentDeliveryError(f"cannot compose: {exc}"))

    async def aclose(self) -> None:
        async with self._lock:
            client, self._client = self._client, None
            if client is not None and client.is_connected:
                try:
                    await client.quit(timeout=5)
                except (aiosmtplib.SMTPException, OSError):
                    client.close()  # QUIT is a courtesy; the socket is closed either way

    def compose(self, message: OutboundMessage) -> EmailMessage:
        """The MIME message for a delivery (smtp_compose.py: headers, parts, links footer)."""
        return compose(
            message,
            self.settings.sender,
            message_id(message.delivery_id, self.settings.sender_domain),
        )

    async def _deliver(self, message: OutboundMessage, composed: EmailMessage) -> SendResult:
        for attempt in (1, 2):
            reused = self._client is not None and self._client.is_connected
            client = await self._connection()
            try:
                await client.send_message(
                    composed, sender=self.settings.sender_address, recipients=[message.address]
                )
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refused = exc.recipients[0]
                text = scrub(refused.message, message.address)
                return SendResult(
                    ok=False, error=classify_reply(refused.code, text, at_recipient=True)
                )
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code == 421:  # the server is closing the channel
                    self._drop()
                text = scrub(exc.message, message.address)
                return SendResult(
                    ok=False, error=classify_reply(exc.code, text, at_recipient=False)
                )
            except aiosmtplib.SMTPNotSupported as exc:
                return SendResult(ok=False, error=PermanentDeliveryError(str(exc)))
            except (aiosmtplib.SMTPException, OSError) as exc:
                self._drop()
                if reused and attempt == 1:
                    logger.debug(
                        "smtp: pooled connection failed (%s); reconnecting", type(exc).__name__
                    )
                    continue
                detail = scrub(str(exc), message.address, *self._secrets())
                return SendResult(
                    ok=False, error=ProviderUnavailableError(f"connection lost: {detail}")
                )
            logger.debug("smtp: delivery %s accepted", message.delivery_id)
            return SendResult(ok=True, provider_id=composed["Message-ID"])
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password.reveal() if s.password is not None else None,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",  # never None: no silent cleartext fallback
            tls_context=self._tls_context,
            timeout=s.timeout,
        )
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            client.close()
            raise _SetupFailed(
                ProviderUnavailableError(f"the SMTP server refused our login (SMTP {exc.code})")
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            text = scrub(exc.message, *self._secrets())
            raise _SetupFailed(
                ProviderUnavailableError(f"SMTP {exc.code} on connect: {text}")
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            detail = scrub(str(exc), *self._secrets())
            raise _SetupFailed(
                ProviderUnavailableError(f"cannot open SMTP session: {detail}")
            ) from None
        self._client = client
        return client

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _secrets(self) -> tuple[str, ...]:
        password = self.settings.password
        return (password.reveal(),) if password is not None else ()


@hookimpl
def tidings_providers(config: Mapping[str, str]) -> list[SmtpEmailProvider]:
    settings = SmtpSettings.from_config(config)
    return [SmtpEmailProvider(settings)] if settings is not None else []
