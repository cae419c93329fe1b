"""What the server keeps per idle subscribed socket (issue 15: at most 40 KB a subscriber).

Not a memory threshold, which load and allocators blur: the state itself. Each socket holds
uvicorn's ASGI task and its operation's task, nothing more, neither suspended in Starlette's
middleware stack (`api/socket_shortcut.py`); no idle deque (asyncio's Queue
and Event each allocate theirs up front); no copy of the handshake. A change that brings
per-socket tasks or buffers back fails here."""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack
from pathlib import Path

import tidings.api
from tests.live.conftest import LiveServer
from tests.live.test_subscriptions import NOTIFICATIONS, customer_token, setup_customers
from tests.live.ws import connect
from tidings.api.ws_protocol import LeanWebSocketProtocol
from tidings.core.live.bus import LiveSubscription
from tidings.core.live.mailbox import Flag, Mailbox

SOCKETS = 3
# Starlette's application, middleware and router: a websocket to /graphql passes none of them.
STARLETTE_STACK = ("starlette/applications.py", "starlette/middleware/", "starlette/routing.py")


LIBRARIES = ("/uvicorn/", "/starlette/", "/strawberry/", "/graphql/")
OURS = str(Path(tidings.api.__file__).resolve().parents[1])


def is_server_code(filename: str) -> bool:
    if any(part in filename for part in LIBRARIES):
        return True
    return (
        filename.startswith(OURS) and "site-packages" not in filename and "/tests/" not in filename
    )


def server_tasks() -> set[asyncio.Task]:
    """Tasks running the server stack's code (the test's clients and the loop's own helpers
    run theirs in `websockets` and `asyncio`)."""
    found = set()
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if code is not None and is_server_code(code.co_filename):
            found.add(task)
    return found


def is_worker_task(task: asyncio.Task) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and f"{os.sep}core{os.sep}delivery{os.sep}" in code.co_filename


def awaited_files(task: asyncio.Task) -> list[str]:
    """The files of the coroutines a task is suspended in, outermost first."""
    files, coro = [], task.get_coro()
    while coro is not None and hasattr(coro, "cr_code"):
        files.append(coro.cr_code.co_filename)
        coro = coro.cr_await
    return files


async def test_an_idle_subscribed_socket_keeps_two_tasks_and_no_idle_buffers(
    live: LiveServer,
) -> None:
    _, customers = await setup_customers(live, SOCKETS)
    assert live.server is not None
    await asyncio.sleep(0.2)
    before = server_tasks()
    async with AsyncExitStack() as stack:
        for customer in customers:
            client = await stack.enter_async_context(
                connect(live.ws_url, customer_token(live, customer))
            )
            await client.subscribe(NOTIFICATIONS)
        await live.subscribed(SOCKETS)
        await asyncio.sleep(0.2)

        # The in-process worker's round tasks (its delivery loops and, on PostgreSQL, the
        # expansion beside them) come and go whatever the sockets do: not the sockets' own.
        grown = {t for t in server_tasks() - before if not is_worker_task(t)}
        names = sorted(t.get_coro().__qualname__ for t in grown)  # type: ignore[union-attr]
        assert len(grown) == 2 * SOCKETS, names

        for task in grown:
            chain = awaited_files(task)
            assert not [f for f in chain if any(s in f for s in STARLETTE_STACK)], chain

        sockets = [
            c for c in live.server.server_state.connections if isinstance(c, LeanWebSocketProtocol)
        ]
        assert len(sockets) == SOCKETS
        for socket in sockets:
            assert isinstance(socket.queue, Mailbox) and socket.queue._items is None
            assert isinstance(socket.writable, Flag) and socket.writable._waiters is None
            assert socket.request is None and socket.response is None

        subscriptions: list[LiveSubscription] = list(live.api.runtime.bus.hub._all)
        assert len(subscriptions) == SOCKETS
        for subscription in subscriptions:
            assert subscription._events._items is None
