"""Unsubscribing by mail: the `mailto:` entry of a marketing mail's `List-Unsubscribe`, as a
mail client sends it, reaches `tidings inbound-smtp` (a real subprocess) and withdraws what
the one-click link would, through the same path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage
from urllib.parse import unquote

import aiosmtplib
import pytest

from tests.conftest import Api
from tests.delivery.conftest import grant, mail_app, marketing_customer, send
from tests.delivery.inbound import inbound_smtp, mail_to
from tidings.api.inbound_unsubscribe import subject_token
from tidings.core.enums import GrantStatus
from tidings.core.models import PermissionEntry, PermissionState

MAILBOX = "unsubscribe@example.com"
CUSTOMER = "ann@example.com"


@pytest.fixture
async def mailto_api(db: str, smtp) -> AsyncIterator[Api]:
    async with mail_app(db, smtp, TIDINGS_UNSUBSCRIBE_MAILTO=MAILBOX) as api:
        yield api


def request(subject: str) -> bytes:
    """What a mail client sends for `mailto:...?subject=...`."""
    message = EmailMessage()
    message["From"] = CUSTOMER
    message["To"] = MAILBOX
    message["Subject"] = subject
    message.set_content("This message will unsubscribe you.")
    return bytes(message)


async def test_the_mailto_unsubscribe_withdraws_like_the_one_click_link(
    mailto_api, smtp, db, tmp_path
):
    api = mailto_api
    token, customer = await marketing_customer(api, email=CUSTOMER)
    await grant(api, token, customer)
    await send(api, token, customer, "sale")
    assert await api.runtime.worker.run_once() == 1
    [mail] = smtp.received
    mailto = next(
        entry.strip(" <>")
        for entry in mail.message["List-Unsubscribe"].split(",")
        if "mailto:" in entry
    )
    subject = unquote(mailto.partition("subject=")[2])
    assert subject.startswith("unsubscribe ")

    async with inbound_smtp(tmp_path, db, TIDINGS_UNSUBSCRIBE_MAILTO=MAILBOX) as inbound:
        reply = await mail_to(inbound.port, request(subject), MAILBOX, sender=CUSTOMER)
        assert (reply.code, reply.message) == (250, "2.0.0 Unsubscribed")
        [state] = await PermissionState.filter(channel="email", category="promos")
        assert state.status is GrantStatus.WITHDRAWN
        [entry] = await PermissionEntry.filter(source="one_click_unsubscribe")
        assert entry.evidence["via"] == "mailto"
        assert CUSTOMER not in str(entry.evidence)
        assert entry.recorded_by.startswith("customer:")

        # Sent twice (a client retrying): nothing more is recorded.
        again = await mail_to(inbound.port, request(f"Re: {subject}"), MAILBOX, sender=CUSTOMER)
        assert again.code == 250
        assert await PermissionEntry.filter(source="one_click_unsubscribe").count() == 1

        # A forged, tampered or missing token withdraws nothing and says so.
        for bad in ("unsubscribe not-a-token", f"{subject}x", "unsubscribe", "hello"):
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await mail_to(inbound.port, request(bad), MAILBOX, sender=CUSTOMER)
            assert (refused.value.code, refused.value.message[:5]) == (550, "5.6.0")

        # Without a bounce address, nothing else is taken.
        with pytest.raises(aiosmtplib.SMTPRecipientRefused):
            await mail_to(inbound.port, request(subject), "bounces@example.com")
        log = inbound.stop()
    assert log.count("unsubscribe request honoured") == 2
    assert log.count("unsubscribe request refused") == 4
    assert CUSTOMER not in log and subject.split()[1] not in log


@pytest.mark.parametrize(
    ("subject", "token"),
    [
        ("unsubscribe abc.def-g_h", "abc.def-g_h"),
        ("  UNSUBSCRIBE   abc ", "abc"),
        ("Re: unsubscribe abc", "abc"),
        ("Fwd: RE: unsubscribe abc", "abc"),
        ("unsubscribe", None),
        ("unsubscribe abc def", None),
        ("subscribe abc", None),
        ("", None),
    ],
)
def test_the_subject_token(subject, token):
    assert subject_token(request(subject)) == token


def test_a_message_without_a_subject_names_no_token():
    assert subject_token(b"From: a@example.com\r\n\r\nhello\r\n") is None
    assert subject_token(b"\xff\xfe garbage") is None
