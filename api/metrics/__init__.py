"""Prometheus metrics (docs/metrics.md): off unless TIDINGS_METRICS=on."""

from __future__ import annotations

import logging

from tidings.api.metrics.exposure import Metrics, MetricsPortError, MetricsServer
from tidings.api.metrics.instruments import CountWebsockets, Instruments
from tidings.api.settings import Settings
from tidings.core.delivery.registry import ProviderRegistry
from tidings.core.live import LiveBus

__all__ = [
    "CountWebsockets",
    "Instruments",
    "Metrics",
    "MetricsPort",
    "MetricsPortError",
    "MetricsServer",
    "build_metrics",
]

logger = logging.getLogger("tidings")


def build_metrics(
    settings: Settings, bus: LiveBus, registry: ProviderRegistry, *, listen: bool
) -> Metrics | None:
    """A process's metrics when TIDINGS_METRICS is on, told of every provider call. A
    process that serves no subscriber (`listen=False`: a worker) reports no live figures."""
    if not settings.metrics:
        return None
    token = settings.metrics_token.reveal() if settings.metrics_token else None
    metrics = Metrics(bus if listen else None, token=token)
    registry.observer = metrics.instruments.observe_send
    if not listen and settings.metrics_port is None:
        logger.warning(
            "TIDINGS_METRICS is on, but this process has no HTTP server: set "
            "TIDINGS_METRICS_PORT to serve its metrics"
        )
    return metrics


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
