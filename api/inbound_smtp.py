"""`tidings inbound-smtp`: an SMTP server (aiosmtpd) for what comes back to email's bounce
address: delivery status notifications and ARF complaints, read by the provider's own parser
(providers/smtp_bounces.py) and recorded by the same recorder `POST /feedback/<provider>` uses.

It takes mail only for TIDINGS_BOUNCE_ADDRESS and its tagged forms (`bounces+<id>@...`),
and for TIDINGS_UNSUBSCRIBE_MAILTO when set (a message to that mailbox is an unsubscribe
request: api/inbound_unsubscribe.py); any other recipient is refused at RCPT (550), so it
relays nothing. A message over TIDINGS_MAX_BODY_BYTES is refused (552, by aiosmtpd); one
that is not a report is refused (550 5.6.0); a database failure answers 451 so the sending
MTA tries again. The 250 after DATA comes once the feedback is committed. Addresses and
message text are never logged (aiosmtpd's own log names every command: it is kept at
WARNING). Run it where only your MX or relay can reach it: it trusts what it is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from aiosmtpd.smtp import SMTP

from tidings.api.callbacks import feedback_recorder
from tidings.api.inbound_unsubscribe import MailUnsubscribe
from tidings.api.serving import run_command, with_db
from tidings.api.settings import Settings
from tidings.core.delivery.feedback import FeedbackRecorder
from tidings.core.services.preference_center import PreferenceCenter
from tidings.providers.smtp import SmtpEmailProvider
from tidings.providers.smtp_bounces import BounceAddress, parse_report

if TYPE_CHECKING:
    from tidings.api.runtime import Runtime

logger = logging.getLogger("tidings.inbound_smtp")
T = TypeVar("T")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 2525
# aiosmtpd logs each command line (MAIL FROM, RCPT TO: addresses) at INFO.
AIOSMTPD_LOGGER = "mail.log"

NO_MAILBOX = "550 5.1.1 No such mailbox here"
NOT_A_REPORT = "550 5.6.0 Not a delivery status notification or feedback report"
TRY_LATER = "451 4.3.0 Cannot record it now; try again later"
RECORDED = "250 2.0.0 Recorded"
NOT_UNSUBSCRIBE = "550 5.6.0 Not an unsubscribe request for a valid link"
UNSUBSCRIBED = "250 2.0.0 Unsubscribed"


class InboundMail:
    """The aiosmtpd handler: which recipients are ours, and what a message's DATA does."""

    def __init__(
        self,
        recorder: FeedbackRecorder,
        bounce: BounceAddress | None,
        *,
        unsubscribe: MailUnsubscribe | None = None,
        provider: str = SmtpEmailProvider.name,
    ) -> None:
        self.recorder = recorder
        self.bounce = bounce
        self.unsubscribe = unsubscribe
        self.provider = provider

    def accepts(self, address: str) -> bool:
        return bool(
            (self.bounce is not None and self.bounce.accepts(address))
            or (self.unsubscribe is not None and self.unsubscribe.accepts(address))
        )

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if not self.accepts(address):
            return NO_MAILBOX
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        """A message to the unsubscribe mailbox is an unsubscribe request (whoever else it
        is for); any other is a report."""
        raw = envelope.original_content or b""
        unsubscribe = self.unsubscribe
        if unsubscribe is not None and any(unsubscribe.accepts(r) for r in envelope.rcpt_tos):
            return await self._unsubscribe(unsubscribe, raw)
        try:
            items = parse_report(raw, bounce=self.bounce, recipients=list(envelope.rcpt_tos))
        except ValueError as error:  # a fixed message, nothing of the mail's
            logger.info("inbound-smtp: refused a message: %s", error)
            return NOT_A_REPORT
        result = await _committed(self.recorder.record(self.provider, items), "record feedback")
        if result is None:
            return TRY_LATER
        logger.info(
            "inbound-smtp: %d recorded, %d duplicate(s), %d unmatched",
            result.recorded,
            result.duplicates,
            result.unmatched,
        )
        return RECORDED

    async def _unsubscribe(self, unsubscribe: MailUnsubscribe, raw: bytes) -> str:
        done = await _committed(unsubscribe.handle(raw), "unsubscribe")
        if done is None:
            return TRY_LATER
        logger.info("inbound-smtp: unsubscribe request %s", "honoured" if done else "refused")
        return UNSUBSCRIBED if done else NOT_UNSUBSCRIBE


async def _committed(work: Awaitable[T], what: str) -> T | None:
    """`work`'s result; None when it failed (the database, most likely), so the answer can
    be 451 and the sending MTA tries again. Only the error's class is logged."""
    try:
        return await work
    except Exception as error:
        logger.error("inbound-smtp: cannot %s now (%s)", what, type(error).__name__)
        return None


async def start_server(
    handler: InboundMail, host: str, port: int, max_bytes: int
) -> asyncio.AbstractServer:
    """Listen on host:port; each connection is one aiosmtpd session over `handler`."""
    logging.getLogger(AIOSMTPD_LOGGER).setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=max_bytes, ident="Tidings inbound-smtp"),
        host=host,
        port=port,
    )


def cmd_inbound_smtp(args: argparse.Namespace) -> int:
    """Receive bounces and complaints until SIGINT or SIGTERM."""
    from tidings.api.app import quiet_sql_logs
    from tidings.api.runtime import build_runtime

    async def work(settings: Settings) -> int:
        if settings.bounce_address is None and settings.unsubscribe_mailto is None:
            print(
                "tidings: inbound-smtp needs TIDINGS_BOUNCE_ADDRESS (e.g. bounces@shop.example)"
                " or TIDINGS_UNSUBSCRIBE_MAILTO: it takes mail only for those addresses",
                file=sys.stderr,
            )
            return 2
        quiet_sql_logs(settings)
        try:
            runtime = build_runtime(settings, listen=False)
        except ValueError as error:  # a provider's settings, named in the message
            print(f"tidings: {error}", file=sys.stderr)
            return 2
        handler = InboundMail(
            feedback_recorder(
                runtime.services,
                settings.secret_key.reveal(),
                runtime.hasher,
                runtime.metrics.instruments if runtime.metrics else None,
            ),
            settings.bounce_address,
            unsubscribe=mail_unsubscribe(runtime, settings.unsubscribe_mailto),
        )

        async def run() -> int:
            try:
                server = await start_server(
                    handler, args.host, args.port, settings.limits.max_body_bytes
                )
            except OSError as error:
                print(
                    f"tidings: cannot listen on {args.host}:{args.port} "
                    f"({error.strerror or error}); choose another with --port",
                    file=sys.stderr,
                )
                return 1
            await runtime.bus.start()
            metrics_port = await runtime.metrics_port().start()  # TIDINGS_METRICS_PORT
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            print(f"  Tidings inbound SMTP on {args.host}:{args.port}", flush=True)
            try:
                await stop.wait()
            finally:
                server.close()
                await server.wait_closed()
                await metrics_port.aclose()
                await runtime.bus.aclose()
                runtime.templates.close()
            return 0

        return await with_db(settings, run, migrate=True)

    return run_command(work)


def mail_unsubscribe(runtime: Runtime, mailbox: str | None) -> MailUnsubscribe | None:
    """The unsubscribe mailbox over the runtime's link signer and services; None when unset."""
    if mailbox is None:
        return None
    services = runtime.services
    center = PreferenceCenter(services.consent, services.customers, services.tiers)
    return MailUnsubscribe(mailbox, runtime.links, center)


def add_parser(sub: Any) -> None:
    """The `inbound-smtp` command's arguments (api/cli.py)."""
    inbound = sub.add_parser(
        "inbound-smtp",
        help="receive bounces and spam complaints by SMTP",
        description="An SMTP server for mail coming back to TIDINGS_BOUNCE_ADDRESS: delivery "
        "status notifications (RFC 3464) and ARF complaints (RFC 5965), recorded against "
        "the delivery they name; and for TIDINGS_UNSUBSCRIBE_MAILTO, when set: unsubscribe "
        "requests by mail. Point the bounce domain's MX (or a relay) here.",
    )
    inbound.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    inbound.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    inbound.set_defaults(handler=cmd_inbound_smtp)
