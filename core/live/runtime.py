"""What a serving process needs for live streams: its bus and the per-event caller check."""

from __future__ import annotations

from dataclasses import dataclass, field

from tidings.core.live.bus import LiveBus
from tidings.core.live.callers import CallerCheck


@dataclass
class LiveRuntime:
    bus: LiveBus
    callers: CallerCheck = field(default_factory=CallerCheck)
    # Rows a subscription re-reads from the database after a gap, at most.
    catch_up_limit: int = 100

    def __post_init__(self) -> None:
        self.bus.hub.check = self.callers.recheck_many  # callers re-checked per event batch
