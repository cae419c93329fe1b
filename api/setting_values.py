"""Reading one setting's value: each reader names the variable in the error a user sees."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from tidings.core.links import DEFAULT_PUBLIC_URL
from tidings.plugins.durations import parse_duration


class SettingsError(Exception):
    """A setting is missing or malformed; the process should refuse to start."""


def read_int(config: Mapping[str, str], name: str, default: int) -> int:
    value = config.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be an integer") from None
    if number <= 0:
        raise SettingsError(f"{name} must be positive")
    return number


def read_optional_int(config: Mapping[str, str], name: str) -> int | None:
    """A positive integer, or None when unset."""
    value = config.get(name)
    if value is None or value.strip() == "":
        return None
    return read_int(config, name, 0)


def read_days(config: Mapping[str, str], name: str) -> int:
    """A whole number of days, 0 or more (default 0)."""
    value = (config.get(name) or "").strip()
    if not value:
        return 0
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number of days") from None
    if number < 0:
        raise SettingsError(f"{name} must be 0 or more")
    return number


def read_duration(config: Mapping[str, str], name: str, default: int) -> int:
    """Whole seconds from plain seconds (`3600`) or a number with a unit (`90s`, `15m`,
    `12h`, `30d`), so a TTL of a month need not be worked out by hand."""
    value = config.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        seconds = parse_duration(value, name)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    if seconds < 1:
        raise SettingsError(f"{name} must be at least one second")
    return round(seconds)


def read_seconds(config: Mapping[str, str], name: str, default: float) -> float:
    """Seconds, fractions kept (`200ms`, `0.5`): for limits shorter than a second."""
    value = config.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return parse_duration(value, name)
    except ValueError as error:
        raise SettingsError(str(error)) from None


def read_bool(config: Mapping[str, str], name: str, default: bool) -> bool:
    value = config.get(name)
    if value is None or value.strip() == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false (on or off)")


def read_database_url(config: Mapping[str, str]) -> str:
    """TIDINGS_DATABASE_URL, SQLite or PostgreSQL; `postgresql://` is spelt `postgres://`."""
    url = config.get("TIDINGS_DATABASE_URL", "sqlite://tidings.sqlite3")
    if not url.startswith(("sqlite://", "postgres://", "postgresql://")):
        raise SettingsError("TIDINGS_DATABASE_URL must start with sqlite:// or postgres://")
    if url.startswith("postgresql://"):
        url = "postgres://" + url[len("postgresql://") :]
    return url


def read_public_url(config: Mapping[str, str], env: str) -> str:
    """TIDINGS_PUBLIC_URL: http(s) with a host, no query, fragment or credentials; required
    in production (links in messages must reach the service from outside)."""
    value = (config.get("TIDINGS_PUBLIC_URL") or "").strip()
    if not value:
        if env == "production":
            raise SettingsError(
                "TIDINGS_PUBLIC_URL is required when TIDINGS_ENV=production "
                "(the address customers reach, e.g. https://notify.shop.example)"
            )
        return DEFAULT_PUBLIC_URL
    parsed = urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SettingsError("TIDINGS_PUBLIC_URL must be an http(s) URL with a host")
    if parsed.query or parsed.fragment or parsed.username or parsed.password:
        raise SettingsError("TIDINGS_PUBLIC_URL must have no query, fragment or credentials")
    if any(ch in value for ch in "<>\"' \r\n"):
        raise SettingsError("TIDINGS_PUBLIC_URL must be a plain URL")
    return value.rstrip("/")
