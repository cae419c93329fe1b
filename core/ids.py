"""Time-ordered UUIDs (version 7) so keyset pagination by id follows creation order."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = 0


def new_id() -> uuid.UUID:
    """A UUIDv7: 48-bit millisecond timestamp, then random bits; monotonic within a process."""
    global _last
    with _lock:
        ms = time.time_ns() // 1_000_000
        rand = int.from_bytes(os.urandom(10), "big")
        value = (
            (ms << 80)
            | (0x7 << 76)
            | ((rand >> 68) & 0xFFF) << 64
            | (0b10 << 62)
            | (rand & ((1 << 62) - 1))
        )
        if value <= _last:
            value = _last + 1
        _last = value
    return uuid.UUID(int=value)
