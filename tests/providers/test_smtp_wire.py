"""The directly written bytes of a plain email are those the email package writes (compose,
flattened as aiosmtplib's send_message flattens it), over the shapes it takes; the shapes it
leaves to the email package are left; and the relay receives the same message either way."""

from __future__ import annotations

import re
from typing import Any

import aiosmtplib
import pytest
from aiosmtplib.email import flatten_message
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.providers.conftest import outbound
from tests.providers.peers import SmtpSink
from tests.providers.test_smtp import settings_for
from tests.providers.test_smtp_links import MAILTO, MARKETING, PREFERENCES
from tidings.providers.smtp import SmtpEmailProvider, message_id
from tidings.providers.smtp_compose import compose
from tidings.providers.smtp_wire import wire

SENDER = "Shop <news@shop.example>"


def both(address: str = "ann@example.net", sender: str = SENDER, **overrides: Any) -> tuple:
    """(written, flattened by the email package as send_message does for a relay with
    8BITMIME), the Date line aside (it is the clock's)."""
    message = outbound(7, address, **overrides)
    msgid = message_id(message.delivery_id, "shop.example")
    written = wire(message, sender, msgid)
    composed = compose(message, sender, msgid)
    flat = flatten_message(composed, utf8=False, cte_type="8bit")
    if written is not None and written.isascii():  # a relay without 8BITMIME: the same bytes
        assert steady(flatten_message(composed, utf8=False, cte_type="7bit")) == steady(flat)
    return (steady(written) if written is not None else None), steady(flat)


def steady(raw: bytes) -> bytes:
    return re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\nDate: -\r\n", raw)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"data": {"preferences_url": PREFERENCES}},  # a long footer line: quoted-printable
        {"data": MARKETING},
        {"data": MARKETING | {"unsubscribe_mailto": MAILTO}},
        {"data": {"unsubscribe_mailto": MAILTO}},
        {"title": "  Your   order\thas shipped ", "body": "Line one\r\nLine two\rthree\n"},
        {"body": "x" * 200},  # one long line, no footer
        {"body": "\n".join(f"line {n} " + "y" * 90 for n in range(30))},  # more than 10 lines
        {"body": "\x00\x01 binary-ish \x7f" * 20, "data": {"preferences_url": PREFERENCES}},
        {"body": "From the start\n.dot line\n", "locale": "fr"},
        {"body": ""},
        {"address": "o'neil+tag@mail.example.co.uk"},
        {"data": MARKETING, "locale": "zh-CN"},  # UTF-8 in long lines: quoted-printable
        {"body": "Grüße aus Berlin\n你好"},  # UTF-8 in short lines: 8bit, raw
        {"body": "Grüße\r\nzwei\rdrei", "data": {"unsubscribe_mailto": "mailto:u@shop.example"}},
    ],
)
def test_written_bytes_are_the_email_packages(overrides: dict[str, Any]) -> None:
    written, flat = both(**overrides)
    assert written == flat


def test_a_non_ascii_sender_name_is_written_as_the_email_package_encodes_it() -> None:
    written, flat = both(sender="Café Shop <news@shop.example>")
    assert written == flat
    assert b"=?utf-8?" in written


@pytest.mark.parametrize(
    "overrides",
    [
        {"html": "<p>Hi</p>"},
        {"title": "Grüße aus Berlin"},
        {"title": "A long subject " * 6},
        {"title": "=?utf-8?q?encoded?="},
        {"title": ""},
        {"address": "ännchen@example.net"},
        {"address": "a..b@example.net"},
        {"address": "x" * 70 + "@example.net"},
        {"data": {"unsubscribe_url": "https://shop.example/u?x=?y"}},
    ],
)
def test_other_shapes_are_left_to_the_email_package(overrides: dict[str, Any]) -> None:
    written, _ = both(**overrides)
    assert written is None


def test_unsafe_links_are_refused_as_compose_refuses_them() -> None:
    with pytest.raises(ValueError, match="unsubscribe_url"):
        wire(
            outbound(1, "ann@example.net", data={"unsubscribe_url": "https://x/a b"}),
            SENDER,
            "<a@b>",
        )


_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x17F), max_size=300)


@settings(max_examples=300, deadline=None)
@given(
    title=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=90),
    body=_text,
    marketing=st.booleans(),
    local=st.from_regex(r"[a-z0-9][a-z0-9.+_-]{0,40}[a-z0-9]", fullmatch=True),
)
def test_written_or_left_never_differs(title: str, body: str, marketing: bool, local: str) -> None:
    written, flat = both(
        f"{local}@example.net", title=title, body=body, data=MARKETING if marketing else {}
    )
    assert written is None or written == flat


async def test_the_relay_receives_what_the_email_package_would_send(
    smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over a real SMTP conversation on one pooled session: the first message (before EHLO)
    goes by send_message, the next as written bytes; the same bytes reach the wire either
    way, with the same envelope."""
    by_package: list[object] = []
    on_wire: list[tuple[str, list[str], bytes, list[str]]] = []
    send_message, sendmail = aiosmtplib.SMTP.send_message, aiosmtplib.SMTP.sendmail

    async def counted(self: aiosmtplib.SMTP, message: Any, **kwargs: Any) -> Any:
        by_package.append(message)
        return await send_message(self, message, **kwargs)

    async def recorded(self: aiosmtplib.SMTP, sender: str, to: Any, raw: Any, **kw: Any) -> Any:
        on_wire.append((sender, list(to), raw, list(kw.get("mail_options") or [])))
        return await sendmail(self, sender, to, raw, **kw)

    monkeypatch.setattr(aiosmtplib.SMTP, "send_message", counted)
    monkeypatch.setattr(aiosmtplib.SMTP, "sendmail", recorded)
    provider = SmtpEmailProvider(settings_for(smtp_sink.port))
    await provider.start()
    messages = [outbound(n, "ann@example.net", data=MARKETING) for n in (1, 2, 3)]
    try:
        for message in messages:
            [result] = await provider.send([message])
            msgid = message_id(message.delivery_id, provider.settings.sender_domain)
            assert result.ok and result.provider_id == msgid
    finally:
        await provider.aclose()
    assert len(by_package) == 1
    assert len(on_wire) == len(smtp_sink.received) == 3
    for message, (sender, to, raw, options) in zip(messages, on_wire, strict=True):
        msgid = message_id(message.delivery_id, provider.settings.sender_domain)
        expected = flatten_message(compose(message, provider.settings.sender, msgid))
        assert steady(raw) == steady(expected)
        assert (sender, to, options) == ("news@shop.example", ["ann@example.net"], on_wire[0][3])
    assert [r.message["Message-ID"] for r in smtp_sink.received] == [
        message_id(m.delivery_id, "shop.example") for m in messages
    ]


class Session:
    """A greeted session that records how each message was handed to it."""

    def __init__(self, extensions: set[str]) -> None:
        self.extensions = extensions
        self.is_ehlo_or_helo_needed = False
        self.sent: list[tuple[str, list[str]]] = []

    def supports_extension(self, name: str) -> bool:
        return name.lower() in self.extensions

    async def sendmail(self, sender: str, to: list[str], raw: bytes, **kw: Any) -> None:
        self.sent.append(("bytes", list(kw["mail_options"])))

    async def send_message(self, message: Any, **kw: Any) -> None:
        self.sent.append(("message", []))


@pytest.mark.parametrize(
    ("extensions", "body", "sent"),
    [
        ({"8bitmime"}, "Grüße", ("bytes", ["BODY=8BITMIME"])),
        (set(), "Grüße", ("message", [])),  # the email package re-encodes it for a 7bit relay
        (set(), "Hello", ("bytes", [])),
        ({"8bitmime"}, "Hello", ("bytes", ["BODY=8BITMIME"])),
    ],
)
async def test_a_raw_utf8_body_goes_as_written_only_to_a_relay_with_8bitmime(
    extensions: set[str], body: str, sent: tuple[str, list[str]]
) -> None:
    provider = SmtpEmailProvider(settings_for(25))
    message = outbound(1, "ann@example.net", body=body)
    written = provider._prepare(message)
    assert isinstance(written, bytes)
    session = Session(extensions)
    provider_id = await provider._transmit(session, message, written)  # type: ignore[arg-type]
    assert provider_id == message_id(message.delivery_id, "shop.example")
    assert session.sent == [sent]
