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
    direct: int = 0  # of the sent, those the bus's own task wrote (schema/live/direct.py)
    # Backpressure: frames that waited longer than the send timeout on a socket whose client
    # stopped reading, and the sockets closed with 1013 for it.
    send_timeouts: int = 0
    slow_closed: int = 0


@dataclass(frozen=True)
class Backpressure:
    """A snapshot for metrics: how far the subscribers of this process are behind."""

    subscriptions: int
    queued: int  # events waiting in all subscription queues
    deepest: int  # in the fullest queue
    overflows: int  # queues that overflowed (the backlog became one RESYNC), since start
    check_timeouts: int  # batch re-checks that gave up on a stalled database, since start
    send_timeouts: int
    slow_closed: int


@dataclass
class LiveRuntime:
    bus: LiveBus
    callers: CallerCheck = field(default_factory=CallerCheck)
    # Rows a subscription re-reads from the database after a gap, at most.
    catch_up_limit: int = 100
    frames: FrameCounts = field(default_factory=FrameCounts)
    # Seconds a frame may wait on one socket (TIDINGS_LIVE_SEND_TIMEOUT).
    send_timeout: float = 5.0
    # Then seconds the 1013 close may wait for the slow client to drain before its
    # connection is cut.
    slow_close_grace: float = 10.0

    def __post_init__(self) -> None:
        self.bus.hub.check = self.callers.recheck_many  # callers re-checked per event batch

    def backpressure(self) -> Backpressure:
        hub = self.bus.hub
        queued, deepest = hub.depth()
        return Backpressure(
            subscriptions=len(hub),
            queued=queued,
            deepest=deepest,
            overflows=hub.overflows,
            check_timeouts=hub.check_timeouts,
            send_timeouts=self.frames.send_timeouts,
            slow_closed=self.frames.slow_closed,
        )
