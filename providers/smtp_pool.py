"""The SMTP provider's connections: up to TIDINGS_SMTP_POOL_SIZE sessions kept open and reused
across batches, so a busy relay is fed over several connections at once and no delivery pays
for a handshake (TCP, EHLO, STARTTLS, AUTH) once the pool is warm.

A session is taken for one message's conversation and given back afterwards. One that failed
(a dropped socket, a 421) is discarded: its slot frees, and the next taker opens a fresh one.
Opening maps the relay's refusals onto `SessionSetupError`, which carries the error every
message still waiting should get (the relay is down or refuses our login: trying the rest of
the batch would only hammer it).
"""

from __future__ import annotations

import asyncio
import ssl

import aiosmtplib

from tidings.plugins import DeliveryError, ProviderUnavailableError
from tidings.providers._common import scrub
from tidings.providers.smtp_settings import SmtpSettings

__all__ = ["SessionSetupError", "SmtpPool"]


class SessionSetupError(Exception):
    """A session could not be opened: every remaining message gets `error`."""

    def __init__(self, error: DeliveryError) -> None:
        super().__init__(error.message)
        self.error = error


class SmtpPool:
    """At most `settings.pool_size` open sessions; idle ones are reused newest first."""

    def __init__(self, settings: SmtpSettings, tls_context: ssl.SSLContext | None) -> None:
        self.settings = settings
        self.tls_context = tls_context
        self._slots = asyncio.Semaphore(settings.pool_size)
        self._idle: list[aiosmtplib.SMTP] = []
        self._busy: set[aiosmtplib.SMTP] = set()
        self._fresh: set[aiosmtplib.SMTP] = set()  # opened, but no conversation on it yet
        self.opened = 0  # sessions opened over the pool's life (for tests and the benchmark)

    @property
    def has_idle(self) -> bool:
        """Whether a session is open and free (one the relay closed while idle does not count)."""
        return any(client.is_connected for client in self._idle)

    async def take(self) -> tuple[aiosmtplib.SMTP, bool]:
        """A session for one conversation and whether it was reused (it may have gone stale
        while idle: the caller retries once on a fresh one). Waits while all are in use."""
        await self._slots.acquire()
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                self._busy.add(client)
                return client, client not in self._fresh
            self._fresh.discard(client)
            client.close()
        try:
            client = await self._open()
        except BaseException:
            self._slots.release()
            raise
        self._busy.add(client)
        return client, False

    def give_back(self, client: aiosmtplib.SMTP, *, healthy: bool, used: bool = True) -> None:
        """Return a taken session: kept for the next taker when `healthy`, else closed.
        `used=False`: it was only opened, so its next taker still counts it as fresh."""
        if client not in self._busy:
            return
        self._busy.discard(client)
        if used:
            self._fresh.discard(client)
        else:
            self._fresh.add(client)
        if healthy and client.is_connected:
            self._idle.append(client)
        else:
            self._fresh.discard(client)
            client.close()
        self._slots.release()

    async def aclose(self) -> None:
        """QUIT every idle session and close those in use (their conversations fail and are
        retried by the worker). A later take opens afresh."""
        idle, self._idle = self._idle, []
        busy, self._busy = self._busy, set()
        self._fresh.clear()
        for client in busy:
            client.close()
            self._slots.release()
        await asyncio.gather(*(self._quit(client) for client in idle))

    @staticmethod
    async def _quit(client: aiosmtplib.SMTP) -> None:
        if not client.is_connected:
            return
        try:
            await client.quit(timeout=5)
        except (aiosmtplib.SMTPException, OSError):
            client.close()  # QUIT is a courtesy; the socket is closed either way

    async def _open(self) -> aiosmtplib.SMTP:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password.reveal() if s.password is not None else None,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",  # never None: no silent cleartext fallback
            tls_context=self.tls_context,
            timeout=s.timeout,
        )
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            client.close()
            raise SessionSetupError(
                ProviderUnavailableError(f"the SMTP server refused our login (SMTP {exc.code})")
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            text = scrub(exc.message, *self._secrets())
            raise SessionSetupError(
                ProviderUnavailableError(f"SMTP {exc.code} on connect: {text}")
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            detail = scrub(str(exc), *self._secrets())
            raise SessionSetupError(
                ProviderUnavailableError(f"cannot open SMTP session: {detail}")
            ) from None
        self.opened += 1
        return client

    def _secrets(self) -> tuple[str, ...]:
        password = self.settings.password
        return (password.reveal(),) if password is not None else ()
