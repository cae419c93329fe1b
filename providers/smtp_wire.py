"""The bytes of a plain email, written directly rather than through the email package's
objects: headers parsed into objects, re-folded and flattened by a generator cost about
0.5 ms a message, a third of the provider's share of a send.

Only the common shape is written here: a text body with no HTML alternative, whose headers
are printable ASCII and fit one line each, to an ASCII address, on a session that has
greeted the relay (and, for a body sent as raw UTF-8, one that offers 8BITMIME). The result
is byte for byte what `smtp_compose.compose` flattened by aiosmtplib's `send_message` puts on
the wire (tests/providers/test_smtp_wire.py holds the two to it over many shapes); anything
else returns None and goes the email package's way.
"""

from __future__ import annotations

import email.utils
import functools
import re
from datetime import UTC, datetime

# The email package's own choice of transfer encoding (7bit, quoted-printable, base64), so a
# body is encoded exactly as `set_content` encodes it. Private, hence the parity test.
from email.contentmanager import _encode_text  # type: ignore[attr-defined]
from email.policy import SMTP

from tidings.plugins import OutboundMessage
from tidings.providers.smtp_compose import (
    POLICY,
    _footer_links,
    _from_header,
    http_link,
    mailto_link,
    text_with_footer,
)

__all__ = ["needs_8bitmime", "wire"]

MAX_LINE = 78  # the compose policy's: a longer header line is folded
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PLAIN_MESSAGE_ID = re.compile(r"<[A-Za-z0-9._-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*>")
_PRINTABLE = re.compile(r"[ -~]+")
_LINE_ENDS = re.compile(r"\r\n|\r|\n")  # as the generator splits a payload into lines
_CONTENT = b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: '
_ONE_CLICK = "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"


@functools.lru_cache(maxsize=8)
def _from_line(sender: str) -> str:
    """The From line as the generator folds it, once per sender."""
    return SMTP.fold_binary("From", _from_header(sender)).decode("ascii")


def _line(name: str, value: str) -> str | None:
    """`name: value` when the email package would write it unchanged on one line: printable
    ASCII, nothing read as an encoded word, short enough not to be folded."""
    line = f"{name}: {value}"
    if len(line) > MAX_LINE or "=?" in value or not _PRINTABLE.fullmatch(value):
        return None
    return line + "\r\n"


def wire(message: OutboundMessage, sender: str, message_id: str) -> bytes | None:
    """The message's bytes as `compose` + `send_message` write them, or None for a shape
    written only by the email package. Raises ValueError, as `compose` does, on unsafe links."""
    unsubscribe = http_link(message.data, "unsubscribe_url")
    preferences = http_link(message.data, "preferences_url")
    mailto = mailto_link(message.data)
    if message.html is not None or not _PLAIN_ADDRESS.fullmatch(message.address):
        return None
    if not _PLAIN_MESSAGE_ID.fullmatch(message_id):
        return None
    lines = [
        _line("Subject", " ".join(message.title.split())),
        _from_line(sender),
        _line("To", message.address),
        _line("Date", email.utils.format_datetime(datetime.now(UTC))),
        _line("Message-ID", message_id),
    ]
    entries = ", ".join(f"<{link}>" for link in (unsubscribe, mailto) if link)
    if entries:  # folded between entries only (smtp_compose.ListUnsubscribeHeader)
        if "=?" in entries:
            return None
        lines.append("List-Unsubscribe: " + entries.replace(", <", ",\r\n <") + "\r\n")
    if unsubscribe:
        lines.append(_ONE_CLICK)
    if None in lines:
        return None
    text = text_with_footer(message.body, _footer_links(message.locale, unsubscribe, preferences))
    cte, payload = _encode_text(text, "utf-8", None, POLICY)
    head = "".join(lines).encode("ascii")  # type: ignore[arg-type]
    # 8bit: raw UTF-8 (held as surrogates), for a relay with 8BITMIME only (see `needs_8bitmime`).
    body = "\r\n".join(_LINE_ENDS.split(payload)).encode("ascii", "surrogateescape")
    return b"%s%s%s\r\nMIME-Version: 1.0\r\n\r\n%s" % (head, _CONTENT, cte.encode(), body)


def needs_8bitmime(written: bytes) -> bool:
    """Whether `written` carries raw UTF-8 (an 8bit body): a relay without 8BITMIME is sent the
    email package's re-encoding of it instead."""
    return not written.isascii()
