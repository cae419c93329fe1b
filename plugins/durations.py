"""Durations in settings: plain seconds (`90`, `2.5`) or a number with one unit (`500ms`,
`90s`, `15m`, `12h`, `30d`). Here, in the vendor-facing package, so a provider's timeout and
the service's token lifetimes read the same way."""

from __future__ import annotations

import re

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?")
_UNIT_SECONDS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str, name: str) -> float:
    """Seconds from a duration setting's text; `ValueError` naming the setting otherwise.
    Zero and negative durations are refused: no setting of ours means "never" by 0."""
    match = _DURATION.fullmatch(value.strip().lower())
    if match is None:
        raise ValueError(
            f"{name} must be a duration: seconds, or a number with ms, s, m, h or d "
            f"(e.g. 90s, 15m, 12h, 30d), not {value.strip()!r}"
        )
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{name} must be positive")
    return seconds
