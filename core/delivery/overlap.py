"""A worker round's tier expansion beside its deliveries (with two or more delivery loops).

The expansion begins no batch once the round's time is up; each batch it commits is claimed
and sent while the next is decided, so a tier send's first deliveries go out while the rest
of the tier is still being expanded, rather than after all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

# (deadline as `time.monotonic()`, called after each committed batch) -> deliveries written
Expand = Callable[[float, Callable[[], None]], Awaitable[int]]
# (seconds left) -> deliveries handled
Process = Callable[[float], Awaitable[int]]


async def expand_beside(
    expand: Expand, process: Process, seconds: float, stop: asyncio.Event | None
) -> int:
    """Run `expand` and, beside it, `process` again whenever a batch was committed, until the
    expansion ends or `seconds` pass. Returns how many deliveries both handled. Cancelled or
    failing, it cancels the expansion (which keeps its last committed cursor)."""
    deadline = time.monotonic() + seconds
    written = asyncio.Event()
    expanding = asyncio.ensure_future(expand(deadline, written.set))
    done = 0
    try:
        while True:
            written.clear()
            left = max(0.0, deadline - time.monotonic())
            done += await process(left)
            if expanding.done() or (stop is not None and stop.is_set()) or not left:
                break
            if not written.is_set():  # nothing due yet: wait for the expansion's next batch
                batch = asyncio.ensure_future(written.wait())
                await asyncio.wait(
                    [expanding, batch], timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                batch.cancel()
    except BaseException:
        expanding.cancel()
        with contextlib.suppress(BaseException):
            await expanding
        raise
    return done + await expanding
