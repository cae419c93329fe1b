"""Which webhook URLs Tidings will POST to.

http or https, a host, no credentials in the URL (they would be stored and shown in clear).
Unless TIDINGS_WEBHOOK_ALLOW_PRIVATE allows it, a destination on any address but a public
unicast one (private, loopback, link-local, shared, reserved, multicast) is refused:
server-side request forgery, a webhook must not reach the database or a cloud metadata service
from inside. The host is checked when the webhook is created and resolved again before every
attempt, so a name that later points inside is refused then too. (The HTTP client resolves
the name once more when it connects: a resolver that answers differently within that moment
is not caught. Redirects are never followed.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from tidings.core.errors import UserInputError

MAX_URL = 2048
RESOLVE_TIMEOUT = 5.0  # seconds


class UnsafeDestinationError(Exception):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


def check_url(url: str, field: str = "url") -> str:
    """The URL, stripped, when its form is acceptable; a UserInputError saying why not."""
    value = url.strip()
    if len(value) > MAX_URL:
        raise UserInputError("INVALID_URL", f"At most {MAX_URL} characters.", field)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        raise UserInputError("INVALID_URL", "Not a URL.", field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserInputError("INVALID_URL", "Give an http or https URL with a host.", field)
    if parts.username is not None or parts.password is not None:
        raise UserInputError(
            "INVALID_URL",
            "Credentials in the URL are refused: authenticate the request by its signature.",
            field,
        )
    if parts.fragment or any(ch in value for ch in " \t\r\n<>\"'"):
        raise UserInputError("INVALID_URL", "Give a plain URL without a fragment.", field)
    return value


def is_private(address: str) -> bool:
    """Whether an address is anything but a public unicast one."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # Not global: private, loopback, link-local, shared (100.64/10), reserved, unspecified.
    return not ip.is_global or ip.is_multicast or ip.is_loopback or ip.is_link_local


async def check_destination(url: str, allow_private: bool) -> None:
    """Raise UnsafeDestinationError when the URL's host resolves to an address webhooks may
    not reach (every address it resolves to is checked); nothing when private ones are
    allowed. A name that does not resolve raises OSError (a transient failure)."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        loop = asyncio.get_running_loop()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        # A resolver that hangs counts as a failure (TimeoutError is an OSError).
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [str(info[4][0]).split("%", 1)[0] for info in infos]
    if not addresses or any(is_private(a) for a in addresses):
        raise UnsafeDestinationError("the destination is a private or loopback address")
