"""Small helpers the built-in providers share: masked secrets, scrubbed vendor text, and
Retry-After parsing. Nothing here is specific to one vendor."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from tidings.plugins.durations import parse_duration
from tidings.plugins.secret import MASK, Secret


def setting(config: Mapping[str, str], name: str) -> str | None:
    """A setting's value, stripped; `None` when it is absent or blank."""
    value = config.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def required_setting(config: Mapping[str, str], name: str, needed_by: str) -> str:
    value = setting(config, name)
    if value is None:
        raise ValueError(f"{name} is required when {needed_by} is set")
    return value


def duration_setting(config: Mapping[str, str], name: str, default: float) -> float:
    """Seconds from plain seconds or a number with a unit (`500ms`, `30s`, `2m`)."""
    value = setting(config, name)
    if value is None:
        return default
    return parse_duration(value, name)


def scrub(text: str, *sensitive: str | None, limit: int = 300) -> str:
    """Vendor text fit for an admin: the given addresses and secrets replaced, length capped."""
    for value in sensitive:
        if value:
            text = text.replace(value, "***")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); `None` if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


__all__ = ["MASK", "Secret"]
