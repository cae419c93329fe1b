"""Composing a delivery's email: headers, the text and HTML parts, the unsubscribe footer.

The links come from the message's data (Tidings adds them, see docs/providers.md):
`unsubscribe_url` (marketing only) becomes `List-Unsubscribe: <url>` with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058: the mailbox provider POSTs to
the URL, no login, no cookie), and `unsubscribe_mailto` a second entry (RFC 2369). Both, and
`preferences_url`, are also shown in a footer of each body, in the message's locale, so a
reader finds the way out without their mail client's help.

Mailbox providers read `List-Unsubscribe` only as plain URIs: the header is folded between
its entries, never inside one, and is never MIME-encoded, so every link must be printable
ASCII without spaces or angle brackets (anything else is refused as a header injection).
"""

from __future__ import annotations

import email.utils
import functools
import html
import re
from datetime import UTC, datetime
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.policy import default as default_policy
from typing import Any

from tidings.plugins import OutboundMessage

# Printable ASCII, no spaces, no angle brackets: nothing that could end a URI in a header.
_HTTP_URL = re.compile(r"^https?://[!-;=?-~]+$")
_MAILTO_URL = re.compile(r"^mailto:[!-;=?-~]+$")

# The footer's words, per locale; a locale not here reads English.
FOOTER_WORDS: dict[str, dict[str, str]] = {
    "en": {"unsubscribe": "Unsubscribe", "preferences": "Manage your preferences"},
    "zh-CN": {"unsubscribe": "退订", "preferences": "管理通知偏好"},
}
_LANGUAGE_DEFAULTS = {"zh": "zh-CN"}
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


class ListUnsubscribeHeader(UnstructuredHeader):
    """Folds between `<...>` entries only and never MIME-encodes: a URI split by an encoded
    word is not a URI to Gmail or Yahoo."""

    def fold(self, *, policy: Any) -> str:  # the policy's linesep ends each line
        entries = str(self).split(", <")
        joined = ("," + policy.linesep + " <").join(entries)
        return f"{self.name}: {joined}{policy.linesep}"


class _HeaderClasses(HeaderRegistry):
    """The standard registry, making each header name's class once: the standard one builds
    a new class (`type(...)`) for every header set, a large share of composing a message."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type] = {}

    def map_to_type(self, name: str, cls: type) -> None:
        super().map_to_type(name, cls)
        self._made.clear()

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = super().__getitem__(name)
            if len(self._made) < _KEPT_HEADER_CLASSES:  # names are ours; bound it anyway
                self._made[key] = made
        return made


_KEPT_HEADER_CLASSES = 64
_registry = _HeaderClasses()
_registry.map_to_type("list-unsubscribe", ListUnsubscribeHeader)
POLICY: EmailPolicy = default_policy.clone(header_factory=_registry)


@functools.lru_cache(maxsize=8)
def _from_header(sender: str) -> Any:
    """The From header, parsed once per sender (the settings' own) rather than per message:
    a header object is immutable, and the message takes it as it is."""
    return POLICY.header_factory("From", sender)


def footer_words(locale: str | None) -> dict[str, str]:
    """The footer's words for `locale`: exact, then case-insensitive, then by language."""
    locale = locale or "en"
    if locale in FOOTER_WORDS:
        return FOOTER_WORDS[locale]
    for key, words in FOOTER_WORDS.items():
        if key.lower() == locale.lower():
            return words
    language = locale.replace("_", "-").split("-")[0].lower()
    return FOOTER_WORDS.get(_LANGUAGE_DEFAULTS.get(language, language), FOOTER_WORDS["en"])


def http_link(data: Any, key: str) -> str | None:
    """`data[key]` as a plain http(s) URL, None when absent; ValueError when unsafe."""
    value = data.get(key)
    if not value:
        return None
    url = str(value)
    if not _HTTP_URL.match(url):
        raise ValueError(f"{key} is not a plain http(s) URL")
    return url


def mailto_link(data: Any) -> str | None:
    value = data.get("unsubscribe_mailto")
    if not value:
        return None
    url = str(value)
    if not _MAILTO_URL.match(url):
        raise ValueError("unsubscribe_mailto is not a plain mailto: URL")
    return url


def compose(message: OutboundMessage, sender: str, message_id: str) -> EmailMessage:
    """The MIME message for a delivery: a text part, and an HTML alternative if given, each
    with the links footer; the List-Unsubscribe headers when the data has an unsubscribe."""
    unsubscribe = http_link(message.data, "unsubscribe_url")
    preferences = http_link(message.data, "preferences_url")
    mailto = mailto_link(message.data)
    email_message = EmailMessage(policy=POLICY)
    email_message["Subject"] = " ".join(message.title.split())
    email_message["From"] = _from_header(sender)
    email_message["To"] = message.address
    email_message["Date"] = email.utils.format_datetime(datetime.now(UTC))
    email_message["Message-ID"] = message_id
    entries = [f"<{link}>" for link in (unsubscribe, mailto) if link]
    if entries:
        email_message["List-Unsubscribe"] = ", ".join(entries)
    if unsubscribe:
        email_message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    links = _footer_links(message.locale, unsubscribe, preferences)
    email_message.set_content(text_with_footer(message.body, links))
    if message.html is not None:
        email_message.add_alternative(html_with_footer(message.html, links), subtype="html")
    return email_message


def _footer_links(
    locale: str | None, unsubscribe: str | None, preferences: str | None
) -> list[tuple[str, str]]:
    words = footer_words(locale)
    links = []
    if unsubscribe:
        links.append((words["unsubscribe"], unsubscribe))
    if preferences:
        links.append((words["preferences"], preferences))
    return links


def text_with_footer(body: str, links: list[tuple[str, str]]) -> str:
    if not links:
        return body
    lines = "\n".join(f"{label}: {url}" for label, url in links)
    return f"{body.rstrip()}\n\n--\n{lines}\n"


def html_with_footer(body: str, links: list[tuple[str, str]]) -> str:
    """The footer goes just before the last `</body>`, else at the end."""
    if not links:
        return body
    anchors = " · ".join(
        f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>' for label, url in links
    )
    footer = f'<p style="font-size:13px;color:#444;margin-top:24px">{anchors}</p>'
    ends = list(_BODY_END.finditer(body))
    if not ends:
        return f"{body}\n{footer}"
    at = ends[-1].start()
    return f"{body[:at]}{footer}\n{body[at:]}"
