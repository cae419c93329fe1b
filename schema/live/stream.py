"""The loop under every subscription: wait for an event of the caller's topics, re-check
the caller, and hand the event on with a fresh per-event scope, or end the socket (4403)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable

from tidings.core.audit import record_many
from tidings.core.audit.context import bind_actor
from tidings.core.enums import Role
from tidings.core.live.bus import UNCHECKED, DirectSend
from tidings.core.live.events import RESYNC, REVOKED, LiveEvent, viewer_topic
from tidings.core.live.runtime import LiveRuntime
from tidings.core.viewer import Viewer
from tidings.schema.context import EventScope, Info, Loaders, current_event
from tidings.schema.live.frames import current_operation, visibility
from tidings.schema.live.leaf import LeafRenderer

logger = logging.getLogger("tidings.live")

FORBIDDEN_CLOSE = 4403


def live_runtime(info: Info) -> LiveRuntime:
    live = info.context.live
    if live is None:  # only a websocket context carries one
        raise RuntimeError("subscriptions run over the websocket only")
    return live


async def refuse(info: Info) -> None:
    """End the whole socket with 4403, as at connect: the caller is no longer allowed."""
    socket = info.context.request
    try:
        await socket.close(code=FORBIDDEN_CLOSE, reason="Forbidden")
    except RuntimeError:  # already closing
        pass
    # The socket's handler cancels this operation as the close completes.
    await asyncio.Event().wait()


async def enter(
    info: Info, viewer: Viewer, event: LiveEvent, leaf: LeafRenderer | None = None
) -> bool:
    """Send `event` to this subscriber, or prepare it to be run: True when the caller must
    yield it for GraphQL to execute, with `viewer` (re-checked) and fresh loaders as scope.

    Sent here, False: when another subscriber of this process already got the same bytes
    for this event (same document and variables, same view of the data), or when the
    operation's selection is plain fields that `leaf` renders without execution."""
    seen = visibility(viewer)
    slot = current_operation.get()
    if slot is not None:
        key = (slot.key, seen)
        payload = event.frames.get(key)
        if payload is None and leaf is not None:
            payload = event.frames[key] = leaf.payload(event.data)
            counts = live_runtime(info).frames
            counts.serialised += 1
            counts.rendered += 1
        if payload is not None:
            bind_actor(viewer.ref)  # the caller as re-checked for this event
            # The frame's personal data reads, recorded for this subscriber too.
            await record_many(event.reads.get(key, ()))
            await slot.send(payload)
            return False
    bind_actor(viewer.ref)
    current_event.set(
        EventScope(
            viewer=viewer,
            loaders=Loaders(info.context.services, viewer),
            event=event,
            visibility=seen,
        )
    )
    return True


async def events(
    info: Info,
    topics: Iterable[str],
    kinds: frozenset[str],
    direct: DirectSend | None = None,
) -> AsyncIterator[tuple[LiveEvent, Viewer]]:
    """Events of `kinds` (and RESYNC) on `topics`, each with the caller as re-checked for it.
    Also listens on the caller's own topic, so a revocation ends the stream at once.
    `direct` (`schema.live.direct`): the events the bus may send without this loop."""
    live = live_runtime(info)
    viewer = info.context.viewer
    own = viewer_topic(viewer.kind.value, viewer.id)
    with live.bus.subscribe([*topics, own], caller=viewer) as subscription:
        # The operation's own check ran before this subscription listened: a revocation
        # published in between would be missed, so look once more now that nothing can be.
        if await live.callers.recheck(viewer) is None:
            await refuse(info)
            return
        subscription.direct = direct
        while True:
            event, fresh = await subscription.get()
            if fresh is UNCHECKED or event.kind in (REVOKED, RESYNC):
                fresh = await live.callers.recheck(viewer)
            if fresh is None:
                await refuse(info)
                return
            if fresh.has_role(Role.AGENT):
                await fresh.access()  # its grants, as of this event
            if event.kind == REVOKED:
                continue  # still allowed: the revocation was of something else
            if event.kind == RESYNC or event.kind in kinds:
                yield event, fresh
