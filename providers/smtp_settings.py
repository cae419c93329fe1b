"""The built-in email provider's settings (TIDINGS_SMTP_*, TIDINGS_BOUNCE_ADDRESS), parsed once
and checked at start: a typo stops the process with a one-line message naming the setting."""

from __future__ import annotations

import email.utils
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from tidings.providers._common import Secret, duration_setting, required_setting, setting
from tidings.providers.smtp_bounces import BounceAddress, parse_bounce_address

SECURITY_MODES = ("none", "starttls", "tls")
ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
WEBHOOK_SECRET = "TIDINGS_SMTP_WEBHOOK_SECRET"


@dataclass(frozen=True)
class SmtpSettings:
    """TIDINGS_SMTP_*: the relay, the From header and how to talk to the relay; the VERP
    bounce address and the secret `POST /feedback/smtp` is signed with."""

    host: str
    sender: str  # the From header as configured, e.g. "Shop <news@shop.example>"
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    ca_file: str | None = None  # extra CA bundle for a private relay's certificate
    timeout: float = 30.0
    pool_size: int = 4  # connections kept open to the relay and used at once
    bounce: BounceAddress | None = None
    webhook_secret: Secret | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> SmtpSettings | None:
        """Parsed settings, or `None` when no host is set (the provider stays off)."""
        host = setting(config, "TIDINGS_SMTP_HOST")
        if host is None:
            return None
        security = (setting(config, "TIDINGS_SMTP_SECURITY") or "starttls").lower()
        if security not in SECURITY_MODES:
            raise ValueError(f"TIDINGS_SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}")
        raw_port = setting(config, "TIDINGS_SMTP_PORT")
        if raw_port is None:
            port = 465 if security == "tls" else 587
        elif raw_port.isdigit() and 0 < int(raw_port) < 65536:
            port = int(raw_port)
        else:
            raise ValueError("TIDINGS_SMTP_PORT must be a port number")
        sender = required_setting(config, "TIDINGS_SMTP_FROM", "TIDINGS_SMTP_HOST")
        if not ADDRESS.match(email.utils.parseaddr(sender)[1]):
            raise ValueError(
                "TIDINGS_SMTP_FROM must be an address, e.g. 'Shop <news@shop.example>'"
            )
        username = setting(config, "TIDINGS_SMTP_USERNAME")
        password = setting(config, "TIDINGS_SMTP_PASSWORD")
        secret = setting(config, WEBHOOK_SECRET)
        if password is not None and username is None:
            raise ValueError("TIDINGS_SMTP_PASSWORD is set without TIDINGS_SMTP_USERNAME")
        return cls(
            host=host,
            sender=sender,
            port=port,
            security=security,
            username=username,
            password=Secret(password) if password is not None else None,
            ca_file=setting(config, "TIDINGS_SMTP_CA_FILE"),
            timeout=duration_setting(config, "TIDINGS_SMTP_TIMEOUT", 30.0),
            pool_size=_pool_size(setting(config, "TIDINGS_SMTP_POOL_SIZE")),
            bounce=parse_bounce_address(config.get("TIDINGS_BOUNCE_ADDRESS")),
            webhook_secret=Secret(secret) if secret else None,
        )

    @functools.cached_property
    def sender_address(self) -> str:  # parsed once: it is read for every message
        return email.utils.parseaddr(self.sender)[1]

    @functools.cached_property
    def sender_domain(self) -> str:
        return self.sender_address.rpartition("@")[2]


MAX_POOL_SIZE = 100


def _pool_size(raw: str | None) -> int:
    """TIDINGS_SMTP_POOL_SIZE: 4 by default; 1 sends one message at a time, as wave 1 did."""
    if raw is None:
        return 4
    if raw.isdigit() and 1 <= int(raw) <= MAX_POOL_SIZE:
        return int(raw)
    raise ValueError(f"TIDINGS_SMTP_POOL_SIZE must be a whole number from 1 to {MAX_POOL_SIZE}")
