"""A client that stops reading never holds up the others: its frame waits at most
TIDINGS_LIVE_SEND_TIMEOUT, then its socket closes with 1013 (or, if it never reads again, its
connection is cut), and when it comes back it finds what it missed in its inbox.

The slow client is a real websocket over a socket with a tiny receive buffer that stops calling
`recv`; the events are large, so the server's buffers for it fill after a few of them."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import websockets
from websockets.asyncio.client import ClientConnection

from tests.core.support import raw_id
from tests.delivery.support import send
from tests.live.conftest import serving
from tests.live.test_subscriptions import customer_token, setup_customers
from tests.live.ws import PROTOCOL, LiveClient, connect
from tidings.core.live.events import NOTIFICATION, LiveEvent, customer_topic

NOTIFICATIONS = "subscription { notifications { id title } }"
BIG = "x" * 256 * 1024  # a few of these fill every buffer between server and client
INBOX = "{ inbox(first: 20) { edges { node { title } } } }"
EVENTS = 40
WAIT = 30.0  # generous: the machine is shared


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def stalled_socket(url: str, token: str) -> AsyncIterator[ClientConnection]:
    """A subscribed socket whose client reads as little as it can: a 4 KB receive buffer and
    one frame queued in the client library, and nobody calling `recv`."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    await asyncio.get_running_loop().sock_connect(raw, (host, int(port)))
    async with websockets.connect(
        url, sock=raw, subprotocols=[PROTOCOL], max_queue=1, open_timeout=WAIT
    ) as ws:
        payload = {"authorization": f"Bearer {token}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "connection_ack"
        subscribe = {"id": "slow", "type": "subscribe", "payload": {"query": NOTIFICATIONS}}
        await ws.send(json.dumps(subscribe))
        yield ws


def big_events(customer_id: uuid.UUID) -> list[LiveEvent]:
    """What a worker publishes after storing notifications, with very long titles."""
    return [
        LiveEvent(
            customer_topic(customer_id),
            NOTIFICATION,
            {
                "id": str(uuid.uuid4()),
                "customer_id": str(customer_id),
                "category": "news",
                "title": f"{n} {BIG}",
                "body": "",
                "data": None,
                "created_at": "2026-12-01T00:00:00+00:00",
                "read_at": None,
            },
        )
        for n in range(EVENTS)
    ]


async def titles(client: LiveClient, op_id: str, count: int) -> list[int]:
    """The numbers of the next `count` notifications on `op_id`, in order of arrival."""
    got = []
    for _ in range(count):
        payload = await client.next(op_id, timeout=WAIT)
        got.append(int(payload["data"]["notifications"]["title"].split(" ", 1)[0]))
    return got


async def drain_until_closed(ws: ClientConnection) -> int | None:
    """Read everything the server sent; the close code at the end."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), WAIT)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def test_a_slow_client_is_closed_with_1013_while_a_fast_one_gets_every_event(db):
    async with serving(db, TIDINGS_LIVE_SEND_TIMEOUT="500ms") as live:
        token, (customer,) = await setup_customers(live, 1)
        customer_id = raw_id(customer["id"])
        bearer = customer_token(live, customer)
        frames = live.api.runtime.live.frames
        async with (
            stalled_socket(live.ws_url, bearer) as slow,
            connect(live.ws_url, bearer) as fast,
        ):
            op = await fast.subscribe(NOTIFICATIONS)
            await live.subscribed(2)
            await live.api.runtime.bus.publish(big_events(customer_id))

            # The fast socket gets every event, in order, whatever the slow one does.
            assert await titles(fast, op, EVENTS) == list(range(EVENTS))
            await until(lambda: frames.slow_closed == 1, "the slow socket to be dropped")
            assert frames.send_timeouts >= 1
            # The close is counted first; its subscription leaves the hub as the socket's
            # handler unwinds, a moment later.
            backpressure = live.api.runtime.live.backpressure
            await until(lambda: backpressure().subscriptions == 1, "the slow subscription to go")
            assert backpressure().slow_closed == 1

            # When the slow client reads again, the close it finds is 1013.
            assert await drain_until_closed(slow) == 1013
            assert frames.slow_closed == 1

            # Another send meanwhile reaches the fast socket, as before.
            await send(live.api, token, "news", customer["id"], title="after", body="b")
            assert (await fast.next(op, timeout=WAIT))["data"]["notifications"]["title"] == (
                "after"
            )


async def test_a_client_back_after_1013_catches_up_from_its_inbox(db):
    async with serving(db, TIDINGS_LIVE_SEND_TIMEOUT="500ms") as live:
        token, (customer,) = await setup_customers(live, 1)
        customer_id = raw_id(customer["id"])
        bearer = customer_token(live, customer)
        async with stalled_socket(live.ws_url, bearer) as slow:
            await live.subscribed(1)
            await live.api.runtime.bus.publish(big_events(customer_id))
            await until(lambda: live.api.runtime.live.frames.slow_closed == 1, "the drop")
            # Sent while the app is away: stored, and announced to no socket of it.
            await send(live.api, token, "news", customer["id"], title="missed", body="m")
            assert await drain_until_closed(slow) == 1013

        # Back: the inbox has what it missed; the live stream goes on from there.
        async with connect(live.ws_url, bearer) as back:
            inbox = await live.api.gql(
                "{ inbox(first: 20) { edges { node { title } } } }", {}, bearer
            )
            titles_seen = [e["node"]["title"] for e in inbox["data"]["inbox"]["edges"]]
            assert titles_seen == ["missed"]
            op = await back.subscribe(NOTIFICATIONS)
            await live.subscribed(1)
            await send(live.api, token, "news", customer["id"], title="live again", body="l")
            # The live copy of "missed" may still be on its way (it is published after the
            # commit the inbox saw); an app drops it as one it has. Nothing else comes.
            title = (await back.next(op, timeout=WAIT))["data"]["notifications"]["title"]
            if title == "missed":
                title = (await back.next(op, timeout=WAIT))["data"]["notifications"]["title"]
            assert title == "live again"


async def test_a_client_that_never_reads_again_has_its_connection_cut(db):
    async with serving(db, TIDINGS_LIVE_SEND_TIMEOUT="500ms") as live:
        live.api.runtime.live.slow_close_grace = 0.5
        _, (customer,) = await setup_customers(live, 1)
        customer_id = raw_id(customer["id"])
        async with stalled_socket(live.ws_url, customer_token(live, customer)):
            await live.subscribed(1)
            before = live.connections()
            await live.api.runtime.bus.publish(big_events(customer_id))
            await until(lambda: live.api.runtime.live.frames.slow_closed == 1, "the drop")
            # The close cannot be written; after the grace the server lets the socket go.
            await until(lambda: live.connections() < before, "the connection to be cut")
            assert len(live.api.runtime.bus.hub) == 0
