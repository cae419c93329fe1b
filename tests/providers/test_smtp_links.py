"""The links in composed mail: RFC 8058 + RFC 2369 headers, the footer in both bodies, in the
message's language; unsafe links refused. Composed, then sent through a real aiosmtpd and
parsed back as a mailbox provider would read them."""

from __future__ import annotations

import email
import email.policy
import re
from typing import Any

import pytest

from tests.providers.conftest import outbound
from tests.providers.peers import SmtpSink
from tests.providers.test_smtp import send_one, settings_for
from tidings.providers.smtp import SmtpEmailProvider
from tidings.providers.smtp_compose import footer_words

# As Tidings makes them: a JWT is long, far past a header line's 78 characters.
TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJzdWIiOiJhYmMifQ" * 12 + ".sig-_x"
UNSUBSCRIBE = f"https://shop.example/unsubscribe/{TOKEN}"
PREFERENCES = f"https://shop.example/preferences/{TOKEN}"
MAILTO = f"mailto:unsubscribe@shop.example?subject=unsubscribe%20{TOKEN}"
MARKETING = {"unsubscribe_url": UNSUBSCRIBE, "preferences_url": PREFERENCES}


def flattened(**overrides: Any) -> bytes:
    """Composed and flattened as aiosmtplib flattens it (policy SMTP)."""
    provider = SmtpEmailProvider(settings_for(25))
    message = provider.compose(outbound(1, "ann@example.net", **overrides))
    raw = message.as_bytes(policy=email.policy.SMTP)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    return raw


def composed(**overrides: Any) -> email.message.EmailMessage:
    """Flattened, then parsed back as a mailbox provider would."""
    return email.message_from_bytes(flattened(**overrides), policy=email.policy.default)


def bodies(mail: email.message.EmailMessage) -> tuple[str, str | None]:
    html = mail.get_body(("html",))
    return (
        mail.get_body(("plain",)).get_content(),
        html.get_content() if html is not None else None,
    )


def test_marketing_mail_has_both_headers_plain_and_unencoded() -> None:
    raw = flattened(data={**MARKETING, "unsubscribe_mailto": MAILTO})
    mail = email.message_from_bytes(raw, policy=email.policy.default)

    assert mail["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>, <{MAILTO}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "=?" not in headers  # no MIME-encoded word: a URI split by one is no URI
    assert f"List-Unsubscribe: <{UNSUBSCRIBE}>,\r\n <{MAILTO}>\r\n" in headers


def test_without_mailto_the_url_alone() -> None:
    mail = composed(data=MARKETING)
    assert mail["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    ("locale", "unsubscribe", "preferences"),
    [
        ("en", "Unsubscribe", "Manage your preferences"),
        ("zh-CN", "退订", "管理通知偏好"),
        ("zh", "退订", "管理通知偏好"),
        ("fr-FR", "Unsubscribe", "Manage your preferences"),
    ],
)
def test_marketing_footer_in_text_and_html_in_the_locale(
    locale: str, unsubscribe: str, preferences: str
) -> None:
    mail = composed(
        data=MARKETING,
        locale=locale,
        html="<html><body><p>Sale &amp; more</p></body></html>",
    )
    text, rich = bodies(mail)
    assert text.startswith("Body 1")
    assert f"{unsubscribe}: {UNSUBSCRIBE}" in text
    assert f"{preferences}: {PREFERENCES}" in text
    assert rich is not None
    assert f'<a href="{UNSUBSCRIBE}">{unsubscribe}</a>' in rich
    assert f'<a href="{PREFERENCES}">{preferences}</a>' in rich
    # Inside the body element, before it closes.
    assert rich.index(UNSUBSCRIBE) < rich.index("</body>") < rich.index("</html>")


def test_html_without_a_body_element_gets_the_footer_appended() -> None:
    mail = composed(data=MARKETING, html="<p>Hi</p>")
    _, rich = bodies(mail)
    assert rich is not None and rich.startswith("<p>Hi</p>")
    assert rich.rstrip().endswith("</a></p>")


def test_links_are_escaped_in_html() -> None:
    url = "https://shop.example/preferences/a&b\"c'd"
    mail = composed(data={"preferences_url": url}, html="<p>Hi</p>")
    _, rich = bodies(mail)
    assert 'href="https://shop.example/preferences/a&amp;b&quot;c&#x27;d"' in rich


def test_transactional_mail_has_no_list_unsubscribe_only_the_preference_link() -> None:
    mail = composed(data={"preferences_url": PREFERENCES}, html="<p>Receipt</p>")
    assert "List-Unsubscribe" not in mail
    assert "List-Unsubscribe-Post" not in mail
    text, rich = bodies(mail)
    assert f"Manage your preferences: {PREFERENCES}" in text
    assert "Unsubscribe" not in text and "Unsubscribe" not in (rich or "")
    assert PREFERENCES in (rich or "")


def test_no_links_no_footer() -> None:
    mail = composed()
    assert mail.get_content().strip() == "Body 1"


@pytest.mark.parametrize(
    "data",
    [
        {"unsubscribe_url": "https://shop.example/u/a\r\nBcc: x@evil.example"},
        {"unsubscribe_url": "https://shop.example/u/a>, <https://evil.example"},
        {"unsubscribe_url": "https://shop.example/u/a b"},
        {"unsubscribe_url": "javascript:alert(1)"},
        {"unsubscribe_url": "ftp://shop.example/u"},
        {"unsubscribe_url": "https://shop.example/ü"},
        {"preferences_url": "https://shop.example/p\nx"},
        {"preferences_url": "data:text/html,hi"},
        {"unsubscribe_url": UNSUBSCRIBE, "unsubscribe_mailto": "https://evil.example"},
        {"unsubscribe_url": UNSUBSCRIBE, "unsubscribe_mailto": "mailto:a@b.example\r\nX: y"},
        {"unsubscribe_url": UNSUBSCRIBE, "unsubscribe_mailto": "mailto:<a@b.example>"},
    ],
)
def test_unsafe_links_are_refused(data: dict[str, str]) -> None:
    provider = SmtpEmailProvider(settings_for(25))
    with pytest.raises(ValueError, match="not a plain") as refused:
        provider.compose(outbound(1, "ann@example.net", data=data))
    assert "evil" not in str(refused.value) and "shop" not in str(refused.value)


async def test_refused_link_fails_the_delivery_and_sends_nothing(smtp_sink: SmtpSink) -> None:
    message = outbound(2, "ann@example.net", data={"unsubscribe_url": "https://x/\r\nBcc: y"})
    result = await send_one(settings_for(smtp_sink.port), message)
    assert not result.ok
    assert "cannot compose" in result.error.message
    assert smtp_sink.received == []


async def test_the_links_survive_a_real_smtp_server(smtp_sink: SmtpSink) -> None:
    message = outbound(
        3,
        "ann@example.net",
        data={**MARKETING, "unsubscribe_mailto": MAILTO},
        html="<p>Sale</p>",
        locale="zh-CN",
    )
    result = await send_one(settings_for(smtp_sink.port), message)
    assert result.ok, result.error
    [received] = smtp_sink.received
    mail = received.message
    assert mail["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>, <{MAILTO}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, rich = bodies(mail)
    assert f"退订: {UNSUBSCRIBE}" in text
    assert f'<a href="{PREFERENCES}">管理通知偏好</a>' in (rich or "")


def test_footer_words_fall_back_to_english() -> None:
    assert footer_words(None)["unsubscribe"] == "Unsubscribe"
    assert footer_words("zh-cn")["unsubscribe"] == "退订"
    assert footer_words("zh_CN")["unsubscribe"] == "退订"


@pytest.mark.parametrize(
    "overrides",
    [
        {"data": MARKETING | {"unsubscribe_mailto": MAILTO}},
        {"data": {"preferences_url": PREFERENCES}, "title": "Grüße, 你好 " + "long " * 30},
        {"html": "<html><body><p>Hi</p></body></html>", "data": MARKETING},
    ],
)
def test_header_classes_made_once_change_nothing_on_the_wire(overrides: dict[str, Any]) -> None:
    """The compose policy's registry keeps each header name's class (the standard one makes
    a new class per header): the bytes are those the standard registry gives."""
    from email.headerregistry import HeaderRegistry

    from tidings.providers import smtp_compose

    ours = flattened(**overrides)
    standard = HeaderRegistry()
    standard.map_to_type("list-unsubscribe", smtp_compose.ListUnsubscribeHeader)
    kept = smtp_compose.POLICY
    smtp_compose.POLICY = kept.clone(header_factory=standard)
    try:
        plain = flattened(**overrides)
    finally:
        smtp_compose.POLICY = kept
    # The Date header and a multipart's boundary change each time: compare everything else.
    assert steady(ours) == steady(plain)
    assert flattened(**overrides).count(b"Message-ID:") == 1


def steady(raw: bytes) -> bytes:
    raw = re.sub(rb"=+\d+==", b"BOUNDARY", raw)
    return b"\r\n".join(line for line in raw.split(b"\r\n") if not line.startswith(b"Date:"))
