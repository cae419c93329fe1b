"""Frames the live bus's own task writes, without waking the subscriber's.

A subscription whose document renders without execution (`schema.live.leaf`) on a socket
that can take a frame at once (`OperationSlot.send_now`) is handed each event the hub has
re-checked its caller for while its task waits with nothing queued: the frame is rendered
once per document and view (`LiveEvent.frames`) and written there and then, so a batch of
events reaches its sockets from one task, in order, as a raw broadcast would. Whatever it
declines (another kind of event, a caller that must be re-read, a frame that carries audit
reads, a socket that would have to wait) takes the subscriber's own road, where nothing
changes: the send timeout, the 4403 close and the catch-up all live there.
"""

from __future__ import annotations

from tidings.core.enums import Role
from tidings.core.live.bus import DirectSend
from tidings.core.live.catchup import SentLog
from tidings.core.live.events import LiveEvent
from tidings.core.live.runtime import FrameCounts
from tidings.core.viewer import Viewer
from tidings.schema.live.frames import OperationSlot, current_operation, visibility
from tidings.schema.live.leaf import LeafRenderer


class DirectFrames:
    """The `DirectSend` of one subscription, kept for its life."""

    __slots__ = ("counts", "kinds", "leaf", "sent", "slot")

    def __init__(
        self,
        slot: OperationSlot,
        leaf: LeafRenderer,
        kinds: frozenset[str],
        counts: FrameCounts,
        sent: SentLog | None,
    ) -> None:
        self.slot = slot
        self.leaf = leaf
        self.kinds = kinds
        self.counts = counts
        self.sent = sent

    def __call__(self, event: LiveEvent, viewer: Viewer) -> bool:
        if event.kind not in self.kinds or viewer.has_role(Role.AGENT):
            return False  # a revocation, a resync, or an agent's grants to reload
        key = (self.slot.key, visibility(viewer))
        if event.reads.get(key):
            return False  # reads to record in the audit log, under the subscriber's actor
        sent = self.sent
        if sent is not None and sent.seen(event.data["id"]):
            return True  # sent already (a catch-up got there first): dropped, as it would be
        payload = event.frames.get(key)
        if payload is None:
            payload = event.frames[key] = self.leaf.payload(event.data)
            self.counts.serialised += 1
            self.counts.rendered += 1
        if not self.slot.send_now(payload):
            return False
        if sent is not None:
            sent.fresh(event.data["id"], event.data.get("created_at"))
        return True


def direct_frames(
    leaf: LeafRenderer | None, kinds: frozenset[str], counts: FrameCounts, sent: SentLog | None
) -> DirectSend | None:
    """The operation's direct road, or None when it has none (a document that needs
    execution, or a server whose sockets cannot write without waiting)."""
    slot = current_operation.get()
    if leaf is None or slot is None or not slot.can_send_now():
        return None
    return DirectFrames(slot, leaf, kinds, counts, sent)
