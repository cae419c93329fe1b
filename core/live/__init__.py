"""Live notifications: the bus that carries committed changes to subscribers."""

from tidings.core.live.bus import InProcessBus, LiveBus, LiveSubscription
from tidings.core.live.events import LiveEvent
from tidings.core.live.publisher import LivePublisher

__all__ = ["InProcessBus", "LiveBus", "LiveEvent", "LivePublisher", "LiveSubscription"]
