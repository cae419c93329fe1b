"""Email hears back (issue 12, item 5): mail goes out with a VERP envelope sender, and what
comes back (RFC 3464 bounces, RFC 5965 complaints) reaches the delivery, either through
`tidings inbound-smtp` (a real subprocess, sent to with aiosmtplib) or posted raw and
signed to `POST /feedback/smtp`."""

from __future__ import annotations

import hashlib
import hmac
import logging
import subprocess
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from tests.api.test_cli import TIDINGS, clean_env, free_port
from tests.conftest import Api
from tests.delivery.conftest import grant, mail_app, marketing_customer, send
from tests.delivery.inbound import InboundProcess, inbound_smtp, mail_to
from tests.delivery.support import rows
from tests.providers.reports import ORIGINAL_TO, arf, dsn
from tidings.api.inbound_smtp import InboundMail, start_server
from tidings.core.delivery.feedback import FeedbackRecorder
from tidings.core.enums import DeliveryStatus, GrantStatus
from tidings.core.models import Delivery, DeliveryEvent, PermissionEntry, PermissionState
from tidings.providers.smtp_bounces import BounceAddress

BOUNCES = "bounces@example.com"
WEBHOOK_SECRET = "smtp-webhook-secret-0123"
CUSTOMER = "ann@example.com"


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
async def bounce_api(db: str, smtp) -> AsyncIterator[Api]:
    async with mail_app(
        db, smtp, TIDINGS_BOUNCE_ADDRESS=BOUNCES, TIDINGS_SMTP_WEBHOOK_SECRET=WEBHOOK_SECRET
    ) as api:
        yield api


async def sent(api: Api, key: str = "sale", token_customer: tuple[str, str] | None = None):
    """(admin token, customer id, the SENT delivery) for one marketing mail."""
    if token_customer is None:
        token, customer = await marketing_customer(api, email=CUSTOMER)
        await grant(api, token, customer)
    else:
        token, customer = token_customer
    message = await send(api, token, customer, key)
    assert await api.runtime.worker.run_once() == 1
    [row] = await rows(message)
    assert row.status is DeliveryStatus.SENT and row.provider == "smtp"
    return token, customer, row


async def status_of(row: Delivery) -> DeliveryStatus:
    return (await Delivery.get(id=row.id)).status


async def marketing_email_status(customer_row: Delivery) -> GrantStatus:
    state = await PermissionState.get(
        customer_id=customer_row.customer_id, channel="email", category="promos"
    )
    return state.status


# --- what goes out --------------------------------------------------------------------------


async def test_the_envelope_sender_names_the_delivery_and_the_message_id_is_its_provider_id(
    bounce_api, smtp
):
    _, _, row = await sent(bounce_api)
    [mail] = smtp.received
    assert mail.mail_from == f"bounces+{row.id}@example.com"
    assert mail.message["From"] == "news@example.com"  # the header is untouched
    assert mail.message["Message-ID"] == row.provider_id == f"<{row.id}@example.com>"


async def test_without_a_bounce_address_the_envelope_sender_is_the_from_address(mail_api, smtp):
    await sent(mail_api)
    [mail] = smtp.received
    assert mail.mail_from == "news@example.com"


# --- POST /feedback/smtp --------------------------------------------------------------------


async def post(api: Api, body: bytes, signature: str | None = "good") -> httpx.Response:
    headers = {"content-type": "message/rfc822"}
    if signature == "good":
        headers["X-Tidings-Signature"] = sign(body)
    elif signature is not None:
        headers["X-Tidings-Signature"] = signature
    return await api.client.post("/feedback/smtp", content=body, headers=headers)


async def test_a_signed_bounce_posted_raw_bounces_the_delivery_once(bounce_api):
    api = bounce_api
    _, _, row = await sent(api)
    body = dsn(to=f"bounces+{row.id}@example.com", message_id=row.provider_id)
    answer = await post(api, body)
    assert (answer.status_code, answer.json()) == (
        200,
        {"recorded": 1, "duplicates": 0, "unmatched": 0},
    )
    assert await status_of(row) is DeliveryStatus.BOUNCED
    [event] = await DeliveryEvent.filter(delivery_id=row.id)
    assert (event.kind, event.permanent, event.provider) == ("BOUNCED", True, "smtp")
    assert ORIGINAL_TO not in (event.detail or "") and event.detail.startswith("5.1.1 failed")
    again = await post(api, body)
    assert again.json() == {"recorded": 0, "duplicates": 1, "unmatched": 0}


async def test_a_complaint_matched_by_message_id_alone_withdraws_marketing(bounce_api):
    """An MTA that rewrote the envelope: the original's Message-ID still finds the delivery."""
    api = bounce_api
    _, _, row = await sent(api)
    answer = await post(api, arf(mail_from=BOUNCES, message_id=row.provider_id))
    assert answer.json()["recorded"] == 1
    assert await status_of(row) is DeliveryStatus.COMPLAINED
    assert await marketing_email_status(row) is GrantStatus.WITHDRAWN


async def test_a_report_about_mail_that_is_not_ours_is_unmatched(bounce_api):
    api = bounce_api
    _, _, row = await sent(api)
    foreign = dsn(to="bounces+0b8e4e1c-0000-4000-8000-000000000000@example.com", message_id="<x@y>")
    answer = await post(api, foreign)
    assert answer.json() == {"recorded": 0, "duplicates": 0, "unmatched": 1}
    assert await status_of(row) is DeliveryStatus.SENT


@pytest.mark.parametrize(
    "signature", [None, "", "sha256=" + "0" * 64, sign(b"other body"), sign(b"x", "wrong")]
)
async def test_unsigned_or_badly_signed_reports_are_401_and_record_nothing(bounce_api, signature):
    api = bounce_api
    _, _, row = await sent(api)
    answer = await post(api, dsn(to=f"bounces+{row.id}@example.com"), signature=signature)
    assert answer.status_code == 401
    assert await DeliveryEvent.all().count() == 0
    assert await status_of(row) is DeliveryStatus.SENT


async def test_without_a_webhook_secret_every_report_is_refused(db, smtp):
    async with mail_app(db, smtp, TIDINGS_BOUNCE_ADDRESS=BOUNCES) as api:
        answer = await post(api, dsn())
        assert answer.status_code == 401


@pytest.mark.parametrize(
    "body", [b"hello", dsn().replace(b"multipart/report", b"multipart/mixed"), dsn(blocks=[])]
)
async def test_a_signed_message_that_is_no_report_is_400(bounce_api, body):
    answer = await post(bounce_api, body)
    assert answer.status_code == 400
    assert ORIGINAL_TO not in answer.text


# --- tidings inbound-smtp, a real subprocess --------------------------------------------------


async def test_inbound_smtp_records_a_real_bounce_and_a_real_complaint(bounce_api, db, tmp_path):
    api = bounce_api
    token, customer, bounced = await sent(api, "sale-1")
    _, _, complained = await sent(api, "sale-2", (token, customer))
    async with inbound_smtp(tmp_path, db, TIDINGS_BOUNCE_ADDRESS=BOUNCES) as inbound:
        await bounce_and_complain(inbound, bounced, complained)
        log = inbound.stop()
    assert log.count("1 recorded") == 2 and "1 duplicate(s)" in log
    for personal in (CUSTOMER, ORIGINAL_TO, str(bounced.id), "bounces"):
        assert personal not in log


async def bounce_and_complain(
    inbound: InboundProcess, bounced: Delivery, complained: Delivery
) -> None:
    verp = f"bounces+{bounced.id}@example.com"
    reply = await mail_to(inbound.port, dsn(to=verp, message_id=bounced.provider_id), verp)
    assert (reply.code, reply.message) == (250, "2.0.0 Recorded")
    assert await status_of(bounced) is DeliveryStatus.BOUNCED
    assert await marketing_email_status(bounced) is GrantStatus.GRANTED  # a bounce is no complaint

    # A feedback loop reports to the bounce address itself; Original-Mail-From names the mail.
    report = arf(mail_from=f"bounces+{complained.id}@example.com", message_id="<other@x>")
    assert (await mail_to(inbound.port, report, BOUNCES)).code == 250
    assert await status_of(complained) is DeliveryStatus.COMPLAINED
    assert await marketing_email_status(complained) is GrantStatus.WITHDRAWN
    [entry] = await PermissionEntry.filter(source="complaint")
    assert entry.evidence["deliveryId"] == str(complained.id)
    assert entry.evidence["provider"] == "smtp"
    assert entry.evidence["at"] == datetime(2026, 11, 30, 8).isoformat() + "+00:00"

    # A replay (an MTA that sent it twice) changes nothing more.
    await mail_to(inbound.port, report, BOUNCES)
    assert await PermissionEntry.filter(source="complaint").count() == 1
    assert await DeliveryEvent.filter(delivery_id=complained.id).count() == 1


async def test_inbound_smtp_refuses_other_recipients_non_reports_and_oversized_mail(
    bounce_api, db, tmp_path
):
    settings = {"TIDINGS_BOUNCE_ADDRESS": BOUNCES, "TIDINGS_MAX_BODY_BYTES": "4096"}
    async with inbound_smtp(tmp_path, db, **settings) as inbound:
        await refusals(inbound)
        log = inbound.stop()
    assert "0 recorded, 0 duplicate(s), 1 unmatched" in log
    assert CUSTOMER not in log and "postmaster" not in log and "Away" not in log


async def refusals(inbound: InboundProcess) -> None:
    verp = "bounces+0b8e4e1c-0000-4000-8000-000000000000@example.com"

    for stranger in ("postmaster@example.com", "bounces@example.net", CUSTOMER):
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
            await mail_to(inbound.port, dsn(), stranger)
        assert refused.value.code == 550

    plain = f"From: {CUSTOMER}\r\nSubject: out of office\r\n\r\nAway until Monday.\r\n".encode()
    with pytest.raises(aiosmtplib.SMTPDataError) as not_a_report:
        await mail_to(inbound.port, plain, verp)
    assert (not_a_report.value.code, not_a_report.value.message[:5]) == (550, "5.6.0")

    oversized = dsn(to=verp).replace(b"could not be delivered", (b"x" * 70 + b"\r\n") * 120)
    with pytest.raises(aiosmtplib.SMTPResponseException) as too_big:
        await mail_to(inbound.port, oversized, verp)
    assert too_big.value.code == 552

    # A foreign delivery's bounce is taken (250) and matches nothing.
    assert (await mail_to(inbound.port, dsn(to=verp, message_id="<x@y>"), verp)).code == 250
    assert await DeliveryEvent.all().count() == 0


async def test_a_database_failure_answers_451_so_the_mta_tries_again(bounce_api, caplog):
    """The recorder keeps the event and its consequences in one transaction: when they fail,
    nothing is kept and the sending MTA is told to try again."""
    api = bounce_api
    _, _, row = await sent(api)

    async def failing_withdrawal(provider: str, delivery: Delivery, at: datetime) -> None:
        raise ConnectionError("the database went away")

    recorder = FeedbackRecorder(on_complaint=failing_withdrawal)
    port = free_port()
    server = await start_server(
        InboundMail(recorder, BounceAddress("bounces", "example.com")), "127.0.0.1", port, 65536
    )
    try:
        caplog.set_level(logging.INFO)
        with pytest.raises(aiosmtplib.SMTPDataError) as later:
            await mail_to(port, arf(mail_from=f"bounces+{row.id}@example.com"), BOUNCES)
        assert later.value.code == 451
    finally:
        server.close()
        await server.wait_closed()
    assert await DeliveryEvent.all().count() == 0
    assert await status_of(row) is DeliveryStatus.SENT
    assert "ConnectionError" in caplog.text and str(row.id) not in caplog.text


# --- the command's own refusals ---------------------------------------------------------------


def run_inbound(cwd: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    assert TIDINGS is not None
    return subprocess.run(
        [TIDINGS, "inbound-smtp", *args],
        cwd=cwd,
        env=clean_env(TIDINGS_DATABASE_URL=f"sqlite://{cwd / 'db.sqlite3'}", **settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_inbound_smtp_needs_a_bounce_address(tmp_path):
    result = run_inbound(tmp_path, "--port", str(free_port()))
    assert result.returncode == 2
    assert "TIDINGS_BOUNCE_ADDRESS" in result.stderr


def test_inbound_smtp_refuses_a_bad_bounce_address(tmp_path):
    result = run_inbound(tmp_path, TIDINGS_BOUNCE_ADDRESS="Bounces <b@example.com>")
    assert result.returncode == 2
    assert "TIDINGS_BOUNCE_ADDRESS must be an address" in result.stderr


def test_inbound_smtp_says_when_its_port_is_taken(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_inbound(tmp_path, "--port", str(port), TIDINGS_BOUNCE_ADDRESS=BOUNCES)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
