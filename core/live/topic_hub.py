"""A process's subscriptions grouped by the Redis channel their topics travel on, so the
Redis bus follows a channel exactly while some local subscription needs it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tidings.core.live.bus import DEFAULT_QUEUE_SIZE, LiveSubscription, LocalHub
from tidings.core.live.channels import channels_of
from tidings.core.live.events import resync_event
from tidings.core.viewer import Viewer


class ChannelHub(LocalHub):
    """`follow(channel)` when the first local subscription of a channel opens,
    `unfollow(channel)` when the last one closes. Both are called synchronously and must
    not block (the bus queues the SUBSCRIBE or UNSUBSCRIBE)."""

    def __init__(
        self, prefix: str, follow: Callable[[str], None], unfollow: Callable[[str], None]
    ) -> None:
        super().__init__()
        self._prefix = prefix
        self._follow = follow
        self._unfollow = unfollow
        self._by_channel: dict[str, set[LiveSubscription]] = {}
        self._channels_of: dict[LiveSubscription, list[str]] = {}

    def open(
        self,
        topics: Iterable[str],
        maxsize: int = DEFAULT_QUEUE_SIZE,
        caller: Viewer | None = None,
    ) -> LiveSubscription:
        subscription = super().open(topics, maxsize, caller)
        channels = channels_of(subscription.topics, self._prefix)
        self._channels_of[subscription] = channels
        for channel in channels:
            subscribers = self._by_channel.setdefault(channel, set())
            subscribers.add(subscription)
            if len(subscribers) == 1:
                self._follow(channel)
        return subscription

    def remove(self, subscription: LiveSubscription) -> None:
        super().remove(subscription)
        for channel in self._channels_of.pop(subscription, ()):
            subscribers = self._by_channel.get(channel)
            if subscribers is None:
                continue
            subscribers.discard(subscription)
            if not subscribers:
                del self._by_channel[channel]
                self._unfollow(channel)

    def channels(self) -> frozenset[str]:
        return frozenset(self._by_channel)

    def resync_channel(self, channel: str) -> None:
        """The channel's subscriptions catch up from the database."""
        event = resync_event()
        for subscription in tuple(self._by_channel.get(channel, ())):
            subscription.put(event)
