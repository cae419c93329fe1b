"""What a serving process needs for live streams: its bus, the per-event caller check, and
its frame counts; built once by the app factory."""

from __future__ import annotations

from dataclasses import dataclass, field

from tidings.core.live.bus import LiveBus
from tidings.core.live.callers import CallerCheck


@dataclass
class FrameCounts:
    """Live frames serialised versus frames sent, for tests and the benchmark: one frame
    serialised for many subscribers is the point of the live path's design."""

    serialised: int = 0
    sent: int = 0
    rendered: int = 0  # of the serialised, those rendered without GraphQL execution


@dataclass
class LiveRuntime:
    bus: LiveBus
    callers: CallerCheck = field(default_factory=CallerCheck)
    # Rows a subscription re-reads from the database after a gap, at most.
    catch_up_limit: int = 100
    frames: FrameCounts = field(default_factory=FrameCounts)

    def __post_init__(self) -> None:
        self.bus.hub.check = self.callers.recheck_many  # callers re-checked per event batch
