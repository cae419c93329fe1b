"""Which Redis pub/sub channel carries a live topic.

Topics are fine-grained (one per customer, message, staff member, API key); Redis channels
are coarser, so an API process subscribes to a bounded number of them and a publisher
groups a batch into a handful of messages:

- `customer:<id>` (notifications, inbox changes, a customer's revocations) goes on
  `<prefix>:c:<shard>`, the shard being CRC-32 of the id's text modulo `SHARDS`;
- `message:<id>` (a message's delivery changes) on `<prefix>:m:<id>`, one channel per
  message: only staff watching that message follow it, so a large send nobody watches
  publishes none of its delivery events;
- anything else (`staff:<id>`, `api_key:<id>` revocations) on `<prefix>:v:<shard>`.

The shard count is part of the wire contract between processes: every process of one
deployment must agree on it, so it is a constant, not a setting.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

from tidings.core.live.events import LiveEvent

PREFIX = "tidings:live"
SHARDS = 64


def shard(key: str) -> int:
    """Stable across processes and restarts (unlike `hash`)."""
    return zlib.crc32(key.encode()) % SHARDS


def channel_of(topic: str, prefix: str = PREFIX) -> str:
    kind, _, key = topic.partition(":")
    if kind == "customer":
        return f"{prefix}:c:{shard(key)}"
    if kind == "message":
        return f"{prefix}:m:{key}"
    return f"{prefix}:v:{shard(topic)}"


def channels_of(topics: Iterable[str], prefix: str = PREFIX) -> list[str]:
    """The channels of `topics`, each once, in a stable order."""
    return sorted({channel_of(topic, prefix) for topic in topics})


def by_channel(events: Sequence[LiveEvent], prefix: str = PREFIX) -> dict[str, list[LiveEvent]]:
    """The batch split by channel, each part in the batch's order."""
    parts: dict[str, list[LiveEvent]] = {}
    for event in events:
        parts.setdefault(channel_of(event.topic, prefix), []).append(event)
    return parts
