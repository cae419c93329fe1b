"""Prometheus metrics (docs/metrics.md): off unless TIDINGS_METRICS=on."""

from __future__ import annotations

import logging

from tidings.api.metrics.exposure import Metrics, MetricsServer
from tidings.api.metrics.instruments import CountWebsockets, Instruments

__all__ = ["CountWebsockets", "Instruments", "Metrics", "MetricsPort", "MetricsServer"]

logger = logging.getLogger("tidings")


class MetricsPort:
    """The metrics' own port for a process, when TIDINGS_METRICS_PORT asks for one: started
    and closed around the process's work; doing nothing otherwise."""

    def __init__(self, metrics: Metrics | None, host: str, port: int | None) -> None:
        self.server = MetricsServer(metrics, host, port) if metrics and port else None

    async def start(self) -> MetricsPort:
        if self.server is not None:
            await self.server.start()
        return self

    async def aclose(self) -> None:
        if self.server is not None:
            await self.server.aclose()
