"""The providers serving each channel, started once and closed on shutdown."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from tidings.plugins.interface import Provider, SendResult

logger = logging.getLogger("tidings.delivery")

# Told of every provider.send() call: the provider, its seconds, and its results (metrics).
SendObserver = Callable[[Provider, float, Sequence[SendResult]], None]


class ProviderRegistry:
    """Channel → providers in failover order (built-ins first, then plugins as registered)."""

    def __init__(self, providers: Iterable[Provider]) -> None:
        self.providers = list(providers)
        self.by_channel: dict[str, list[Provider]] = {}
        for provider in self.providers:
            self.by_channel.setdefault(provider.channel, []).append(provider)
        self._started = False
        self.observer: SendObserver | None = None

    def for_channel(self, channel: str) -> list[Provider]:
        return self.by_channel.get(channel, [])

    async def start(self) -> None:
        if self._started:
            return
        for provider in self.providers:
            await provider.start()
        self._started = True

    async def aclose(self) -> None:
        for provider in reversed(self.providers):
            try:
                await provider.aclose()
            except Exception:  # one provider's failure to close must not stop the others
                logger.exception("provider %s failed to close", provider.name)
        self._started = False
