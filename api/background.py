"""The work a process does beside (or instead of) serving: the delivery worker and the
webhook dispatcher, started together and stopped together within TIDINGS_SHUTDOWN_SECONDS.

Stopping: no new claims from the moment it begins; the rounds in hand may finish until the
deadline; what is still running then is cancelled, and the deliveries it held are released
(their lease cleared), so another worker sends them at once instead of after the lease.
Webhook rows in hand at the deadline wait for their lease, as after a crash."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from tidings.core.rounds import stop_within

if TYPE_CHECKING:
    from tidings.api.runtime import Runtime

logger = logging.getLogger("tidings.shutdown")


class Background:
    """The delivery worker and the webhook dispatcher of one process."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self._stopping: asyncio.Future[None] | None = None

    def start(self) -> None:
        self.tasks = [
            asyncio.create_task(self.runtime.worker.run(self.stop), name="tidings-worker"),
            asyncio.create_task(self.runtime.webhooks.run(self.stop), name="tidings-webhooks"),
        ]

    async def until(self, signal: asyncio.Event) -> None:
        """Run until `signal` is set, or until a task ends by itself (it failed)."""
        waiter = asyncio.ensure_future(signal.wait())
        try:
            await asyncio.wait([waiter, *self.tasks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    def begin_shutdown(self, seconds: float) -> asyncio.Future[None]:
        """Start stopping (once) and return what to await for the end of it."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._shutdown(seconds))
        return self._stopping

    async def shutdown(self, seconds: float) -> None:
        """Stop claiming, let the rounds in hand finish for up to `seconds`, cancel the rest
        and release the deliveries it held. Raises what a task failed with, if one did."""
        await self.begin_shutdown(seconds)

    async def _shutdown(self, seconds: float) -> None:
        if not self.tasks:
            return
        logger.info("stopping: finishing the work in hand (up to %g s)", seconds)
        try:
            finished = await stop_within(self.tasks, self.stop, seconds)
        finally:
            released = await self.runtime.worker.release()
        if finished:
            logger.info("stopped: the work in hand finished")
        else:
            logger.warning(
                "stopped at the deadline: %d delivery(ies) released to other workers", released
            )
