"""The SMTP provider against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.providers.conftest import SMTP_PASSWORD, outbound
from tests.providers.peers import (
    SmtpSink,
    free_port,
    self_signed_cert,
    server_tls_context,
    start_smtp,
)
from tidings.plugins import (
    InvalidAddressError,
    PermanentDeliveryError,
    ProviderUnavailableError,
    TransientDeliveryError,
)
from tidings.providers.smtp import SmtpEmailProvider, SmtpSettings, classify_reply, message_id

FROM = "Shop <news@shop.example>"


def settings_for(port: int, **extra: str) -> SmtpSettings:
    config = {
        "TIDINGS_SMTP_HOST": "127.0.0.1",
        "TIDINGS_SMTP_PORT": str(port),
        "TIDINGS_SMTP_SECURITY": "none",
        "TIDINGS_SMTP_FROM": FROM,
        "TIDINGS_SMTP_TIMEOUT": "5",
        **extra,
    }
    settings = SmtpSettings.from_config(config)
    assert settings is not None
    return settings


async def send_one(settings: SmtpSettings, message: Any) -> Any:
    provider = SmtpEmailProvider(settings)
    await provider.start()
    try:
        [result] = await provider.send([message])
    finally:
        await provider.aclose()
    return result


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path)


@pytest.fixture
def served() -> Iterator[list[Controller]]:
    controllers: list[Controller] = []
    yield controllers
    for controller in controllers:
        controller.stop()


async def test_the_exact_message_arrives(smtp_sink: SmtpSink) -> None:
    message = outbound(
        1,
        "ada@example.net",
        title="Your order\r\nshipped",
        body="Plain words.",
        html="<p>Rich <b>words</b>.</p>",
        data={"unsubscribe_url": "https://shop.example/u/abc"},
    )

    result = await send_one(settings_for(smtp_sink.port), message)

    assert result.ok, result.error
    assert result.provider_id == "<dlv-0001@shop.example>"
    [received] = smtp_sink.received
    assert received.mail_from == "news@shop.example"
    assert received.rcpt_tos == ["ada@example.net"]
    mail = received.message
    assert mail["Subject"] == "Your order shipped"
    assert mail["From"] == FROM
    assert mail["To"] == "ada@example.net"
    assert mail["Message-ID"] == "<dlv-0001@shop.example>"
    assert mail["List-Unsubscribe"] == "<https://shop.example/u/abc>"
    assert email.utils.parsedate_to_datetime(mail["Date"]).tzinfo is not None
    assert mail.get_content_type() == "multipart/alternative"
    parts = [(part.get_content_type(), part.get_content().strip()) for part in mail.iter_parts()]
    # Marketing mail shows its unsubscribe link in each body (tests/providers/test_smtp_links.py).
    [(text_type, text), (html_type, rich)] = parts
    assert text_type == "text/plain"
    assert text == "Plain words.\r\n\r\n--\r\nUnsubscribe: https://shop.example/u/abc"
    assert html_type == "text/html"
    assert rich.startswith("<p>Rich <b>words</b>.</p>")
    assert rich.endswith('<a href="https://shop.example/u/abc">Unsubscribe</a></p>')


async def test_text_only_without_html_and_no_unsubscribe_header(smtp_sink: SmtpSink) -> None:
    result = await send_one(settings_for(smtp_sink.port), outbound(2, "bo@example.net"))

    assert result.ok, result.error
    mail = smtp_sink.received[0].message
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().strip() == "Body 2"
    assert "List-Unsubscribe" not in mail


async def test_message_id_is_stable_per_delivery(smtp_sink: SmtpSink) -> None:
    settings = settings_for(smtp_sink.port)
    for message in [
        outbound(3, "a@example.net"),
        outbound(3, "a@example.net"),
        outbound(4, "a@example.net"),
    ]:
        assert (await send_one(settings, message)).ok

    ids = [r.message["Message-ID"] for r in smtp_sink.received]
    assert ids[0] == ids[1] != ids[2]
    odd = message_id("id with <spaces>@and", "shop.example")
    assert odd == message_id("id with <spaces>@and", "shop.example")
    assert odd.count("@") == 1 and " " not in odd and odd.endswith("@shop.example>")


async def test_a_batch_reuses_one_connection(smtp_sink: SmtpSink) -> None:
    provider = SmtpEmailProvider(settings_for(smtp_sink.port, TIDINGS_SMTP_POOL_SIZE="1"))
    await provider.start()
    try:
        results = await provider.send([outbound(n, f"c{n}@example.net") for n in range(3)])
        results += await provider.send([outbound(9, "c9@example.net")])
    finally:
        await provider.aclose()

    assert all(r.ok for r in results)
    assert len({r.peer for r in smtp_sink.received}) == 1


async def test_reconnects_when_the_server_restarts_between_batches(
    served: list[Controller],
) -> None:
    sink = SmtpSink()
    port = free_port()
    served.append(Controller(sink, hostname="127.0.0.1", port=port))
    served[0].start()
    provider = SmtpEmailProvider(settings_for(port))
    await provider.start()
    try:
        assert (await provider.send([outbound(1, "a@example.net")]))[0].ok
        served.pop().stop()
        down = await provider.send([outbound(2, "b@example.net"), outbound(3, "c@example.net")])
        served.append(Controller(sink, hostname="127.0.0.1", port=port))
        served[0].start()
        back = await provider.send([outbound(2, "b@example.net")])
    finally:
        await provider.aclose()

    assert [type(r.error) for r in down] == [ProviderUnavailableError] * 2
    assert back[0].ok, back[0].error
    assert [r.rcpt_tos for r in sink.received] == [["a@example.net"], ["b@example.net"]]


async def test_server_down_is_transient() -> None:
    result = await send_one(settings_for(free_port()), outbound(1, "a@example.net"))

    assert result.ok is False
    assert type(result.error) is ProviderUnavailableError  # the relay's trouble: breaker


async def test_auth(served: list[Controller]) -> None:
    sink = SmtpSink()
    served.append(start_smtp(sink, authenticator=sink.authenticator, auth_require_tls=False))
    port = served[0].port
    good = settings_for(port, TIDINGS_SMTP_USERNAME="mailer", TIDINGS_SMTP_PASSWORD=SMTP_PASSWORD)
    bad = settings_for(port, TIDINGS_SMTP_USERNAME="mailer", TIDINGS_SMTP_PASSWORD="wrong-pass")

    accepted = await send_one(good, outbound(1, "a@example.net"))
    refused = await send_one(bad, outbound(2, "b@example.net"))

    assert accepted.ok, accepted.error
    assert [r.authenticated_as for r in sink.received] == ["mailer"]
    assert sink.logins[0] == ("mailer", SMTP_PASSWORD)
    assert set(sink.logins[1:]) == {("mailer", "wrong-pass")}  # each mechanism tried once
    assert isinstance(refused.error, TransientDeliveryError)  # our login, not the message
    assert "login" in refused.error.message, refused.error.message
    assert "wrong-pass" not in refused.error.message


async def test_starttls_with_auth(served: list[Controller], cert: tuple[Path, Path]) -> None:
    sink = SmtpSink()
    context = server_tls_context(*cert)
    served.append(
        start_smtp(
            sink, tls_context=context, require_starttls=True, authenticator=sink.authenticator
        )
    )
    settings = settings_for(
        served[0].port,
        TIDINGS_SMTP_SECURITY="starttls",
        TIDINGS_SMTP_CA_FILE=str(cert[0]),
        TIDINGS_SMTP_USERNAME="mailer",
        TIDINGS_SMTP_PASSWORD=SMTP_PASSWORD,
    )

    result = await send_one(settings, outbound(1, "a@example.net"))

    assert result.ok, result.error
    [received] = sink.received
    assert received.tls is True
    assert received.authenticated_as == "mailer"


async def test_implicit_tls(served: list[Controller], cert: tuple[Path, Path]) -> None:
    sink = SmtpSink()
    served.append(start_smtp(sink, ssl_context=server_tls_context(*cert)))
    settings = settings_for(
        served[0].port, TIDINGS_SMTP_SECURITY="tls", TIDINGS_SMTP_CA_FILE=str(cert[0])
    )

    result = await send_one(settings, outbound(1, "a@example.net"))

    assert result.ok, result.error
    assert [r.tls for r in sink.received] == [True]


async def test_an_untrusted_certificate_sends_nothing(
    served: list[Controller], cert: tuple[Path, Path]
) -> None:
    sink = SmtpSink()
    served.append(start_smtp(sink, ssl_context=server_tls_context(*cert)))
    settings = settings_for(served[0].port, TIDINGS_SMTP_SECURITY="tls")  # no CA file

    result = await send_one(settings, outbound(1, "a@example.net"))

    assert isinstance(result.error, TransientDeliveryError)
    assert sink.received == []


async def test_starttls_required_but_not_offered_sends_nothing(smtp_sink: SmtpSink) -> None:
    settings = settings_for(smtp_sink.port, TIDINGS_SMTP_SECURITY="starttls")

    provider = SmtpEmailProvider(settings)
    await provider.start()
    try:
        results = await provider.send([outbound(1, "a@example.net"), outbound(2, "b@example.net")])
    finally:
        await provider.aclose()

    assert all(isinstance(r.error, TransientDeliveryError) for r in results)
    assert "STARTTLS" in results[0].error.message
    assert results[1].error is results[0].error  # the session failed once for the whole batch
    assert smtp_sink.received == []


@pytest.mark.parametrize(
    ("stage", "reply", "expected"),
    [
        ("rcpt", "451 4.3.0 Try again later", TransientDeliveryError),
        ("rcpt", "450 4.2.1 Mailbox busy", TransientDeliveryError),
        ("rcpt", "550 5.1.1 <{addr}>: User unknown", InvalidAddressError),
        ("rcpt", "550 Mailbox unavailable", InvalidAddressError),
        ("rcpt", "551 User not local", InvalidAddressError),
        ("rcpt", "553 5.1.3 Bad recipient address syntax", InvalidAddressError),
        ("rcpt", "550 5.7.1 Relaying denied", PermanentDeliveryError),
        ("rcpt", "552 5.2.2 Mailbox full", PermanentDeliveryError),
        ("data", "451 4.7.1 Greylisted", TransientDeliveryError),
        ("data", "554 5.6.0 Content rejected", PermanentDeliveryError),
    ],
)
async def test_replies_map_to_error_classes(
    smtp_sink: SmtpSink, stage: str, reply: str, expected: type
) -> None:
    address = "someone@example.net"
    if stage == "rcpt":
        smtp_sink.rcpt_replies[address] = reply.format(addr=address)
    else:
        smtp_sink.data_reply = reply

    result = await send_one(settings_for(smtp_sink.port), outbound(1, address))

    assert result.ok is False
    assert type(result.error) is expected
    assert reply[:3] in result.error.message
    assert address not in result.error.message
    assert smtp_sink.received == []


async def test_a_malformed_address_is_invalid_without_asking_the_server(
    smtp_sink: SmtpSink,
) -> None:
    result = await send_one(settings_for(smtp_sink.port), outbound(1, "x@y.z\r\nRCPT TO:<e@v.il>"))

    assert isinstance(result.error, InvalidAddressError)
    assert smtp_sink.received == []


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, None),
        ({"TIDINGS_SMTP_HOST": " "}, None),
        ({"TIDINGS_SMTP_HOST": "mx", "TIDINGS_SMTP_FROM": "a@b.example"}, (587, "starttls")),
        (
            {
                "TIDINGS_SMTP_HOST": "mx",
                "TIDINGS_SMTP_FROM": "a@b.example",
                "TIDINGS_SMTP_SECURITY": "TLS",
            },
            (465, "tls"),
        ),
        (
            {
                "TIDINGS_SMTP_HOST": "mx",
                "TIDINGS_SMTP_FROM": "a@b.example",
                "TIDINGS_SMTP_PORT": "25",
                "TIDINGS_SMTP_SECURITY": "none",
            },
            (25, "none"),
        ),
        ({"TIDINGS_SMTP_HOST": "mx"}, "TIDINGS_SMTP_FROM"),
        ({"TIDINGS_SMTP_HOST": "mx", "TIDINGS_SMTP_FROM": "nobody"}, "TIDINGS_SMTP_FROM"),
        (
            {
                "TIDINGS_SMTP_HOST": "mx",
                "TIDINGS_SMTP_FROM": "a@b.example",
                "TIDINGS_SMTP_SECURITY": "ssl",
            },
            "TIDINGS_SMTP_SECURITY",
        ),
        (
            {
                "TIDINGS_SMTP_HOST": "mx",
                "TIDINGS_SMTP_FROM": "a@b.example",
                "TIDINGS_SMTP_PORT": "smtp",
            },
            "TIDINGS_SMTP_PORT",
        ),
        (
            {
                "TIDINGS_SMTP_HOST": "mx",
                "TIDINGS_SMTP_FROM": "a@b.example",
                "TIDINGS_SMTP_PASSWORD": "pw-only",
            },
            "TIDINGS_SMTP_USERNAME",
        ),
    ],
)
def test_settings(config: dict[str, str], expected: Any) -> None:
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=expected) as raised:
            SmtpSettings.from_config(config)
        assert "pw-only" not in str(raised.value)
        return
    settings = SmtpSettings.from_config(config)
    if expected is None:
        assert settings is None
    else:
        assert settings is not None
        assert (settings.port, settings.security) == expected


def test_the_password_never_prints() -> None:
    settings = settings_for(25, TIDINGS_SMTP_USERNAME="mailer", TIDINGS_SMTP_PASSWORD=SMTP_PASSWORD)
    provider = SmtpEmailProvider(settings)

    for text in (repr(settings), str(settings), repr(provider), repr(settings.password)):
        assert SMTP_PASSWORD not in text
    assert settings.password is not None and settings.password.reveal() == SMTP_PASSWORD


@pytest.mark.parametrize(
    ("code", "text", "at_recipient", "expected"),
    [
        (421, "Service closing", False, ProviderUnavailableError),
        (550, "5.1.1 unknown", True, InvalidAddressError),
        (550, "5.1.1 unknown", False, PermanentDeliveryError),
        (550, "5.2.1 mailbox disabled", True, InvalidAddressError),
        (554, "no such user", True, PermanentDeliveryError),
        (553, "", True, InvalidAddressError),
        (299, "odd", False, TransientDeliveryError),
    ],
)
def test_classify_reply(code: int, text: str, at_recipient: bool, expected: type) -> None:
    assert type(classify_reply(code, text, at_recipient=at_recipient)) is expected
