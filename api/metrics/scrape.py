"""The figures read at scrape time: the database's (deliveries, queue), the live runtime's
(subscriptions), and one probe of the live bus.

`Scrape.refresh()` gathers them (async: two statements, one bus round trip) and
`collect()` renders what it gathered, because prometheus-client collects synchronously.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from tidings.api.metrics.instruments import Instruments
from tidings.core.delivery.gauges import (
    DeliveryCount,
    QueueFigures,
    read_delivery_counts,
    read_queue,
)
from tidings.core.live import LiveBus
from tidings.core.live.events import LiveEvent

PROBE_TOPIC = "metrics-probe"  # no subscriber but the probe's own listens on it
PROBE_TIMEOUT = 2.0


async def probe_bus(bus: LiveBus, within: float = PROBE_TIMEOUT) -> float | None:
    """Seconds from publishing an event to this process's hub handing it to a subscriber,
    through the bus as every event goes (Redis and back, behind whatever the listener has
    still to dispatch); None when it did not come back `within` seconds."""
    topic = f"{PROBE_TOPIC}:{secrets.token_hex(8)}"
    with bus.subscribe([topic], maxsize=4) as subscription:
        started = time.perf_counter()
        await bus.publish([LiveEvent(topic, PROBE_TOPIC, {})])
        try:
            async with asyncio.timeout(within):
                await subscription.get()
        except TimeoutError:
            return None
        return time.perf_counter() - started


@dataclass
class Gathered:
    deliveries: list[DeliveryCount] = field(default_factory=list)
    queue: list[QueueFigures] = field(default_factory=list)
    bus_lag: float | None = None


class Scrape(Collector):
    """`bus`: the live bus of a process that serves subscribers (None in a worker, which
    only publishes: there is no listener to probe, and no socket to count)."""

    def __init__(
        self, instruments: Instruments, bus: LiveBus | None, probe_timeout: float = PROBE_TIMEOUT
    ) -> None:
        self.instruments = instruments
        self.bus = bus
        self.probe_timeout = probe_timeout
        self.gathered = Gathered()

    async def refresh(self) -> None:
        gathered = Gathered(await read_delivery_counts(), await read_queue())
        if self.bus is not None:
            gathered.bus_lag = await probe_bus(self.bus, self.probe_timeout)
        self.gathered = gathered

    def describe(self) -> list[object]:
        return []  # nothing to check at registration: the families depend on the data

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        gathered = self.gathered
        deliveries = GaugeMetricFamily(
            "tidings_deliveries",
            "Deliveries ever created, by channel, the status they stand at now and reason "
            "(none: no reason), from the stats rollups: the same in every process.",
            labels=["channel", "status", "reason"],
        )
        for count in gathered.deliveries:
            deliveries.add_metric(
                [count.channel, count.status, count.reason.lower() or "none"], count.count
            )
        yield deliveries
        queue = GaugeMetricFamily(
            "tidings_queue_deliveries",
            "Deliveries a worker may claim, by channel and state: due (waiting for a worker), "
            "claimed (a worker holds it), scheduled (its time has not come).",
            labels=["channel", "state"],
        )
        oldest = GaugeMetricFamily(
            "tidings_queue_oldest_due_age_seconds",
            "How long the longest-waiting due, unclaimed delivery has been due (0: none).",
            labels=["channel"],
        )
        for figures in gathered.queue:
            queue.add_metric([figures.channel, "due"], figures.due)
            queue.add_metric([figures.channel, "claimed"], figures.claimed)
            queue.add_metric([figures.channel, "scheduled"], figures.scheduled)
            oldest.add_metric([figures.channel], figures.oldest_due_seconds)
        yield queue
        yield oldest
        if self.bus is None:
            return
        yield GaugeMetricFamily(
            "tidings_websockets_open",
            "Websockets open on this process.",
            value=self.instruments.open_websockets,
        )
        yield GaugeMetricFamily(
            "tidings_live_subscriptions",
            "Live subscriptions (GraphQL subscription operations) on this process.",
            value=len(self.bus.hub),
        )
        yield GaugeMetricFamily(
            "tidings_bus_probe_success",
            "1 when this scrape's probe event came back through the live bus, else 0.",
            value=0 if gathered.bus_lag is None else 1,
        )
        if gathered.bus_lag is not None:
            yield GaugeMetricFamily(
                "tidings_bus_lag_seconds",
                "Seconds from publishing a probe event on the live bus to this process's "
                "subscriber receiving it, measured at scrape time.",
                value=gathered.bus_lag,
            )
        reconnects = getattr(self.bus, "reconnects", None)
        if isinstance(reconnects, int):
            yield CounterMetricFamily(
                "tidings_bus_reconnects",
                "Times this process's bus listener lost Redis and subscribed again.",
                value=reconnects,
            )
