"""One client process of the live benchmark: a few thousand graphql-transport-ws sockets, as
many customers' apps would hold them, in a process of its own so the server's side is measured
alone.

Driven by JSON lines on stdin, answering each with one JSON line on stdout:
- `{"cmd": "connect", "url": ..., "tokens": [...], "query": ..., "wave": 100, "deflate": true,
  "stall": s}`: open one socket per token, `wave` handshakes at a time (connection_init with the
  token, connection_ack, subscribe), offering permessage-deflate as browsers do unless
  `deflate` is false; answers when every subscribe is sent. A handshake that gets no
  connection_ack within `stall` seconds fails and is counted as an ack stall.
- `{"cmd": "arm"}`: forget earlier receipts; the parent triggers right after every client
  has answered.
- `{"cmd": "collect", "timeout": s, "grace": s, "stall": s}`: wait until every socket has a
  `next` frame (or `timeout`, or `stall` seconds without a new socket's first frame: a
  stall, reported), then `grace` more for duplicates; answers with the counts and the
  wall-clock (`time.time()`, comparable across processes) of the first and last receipt.
- `{"cmd": "vanish", "count": n, "slow": false}`: n sockets disappear without a close (their
  TCP connections reset), as phones that lose their network; with `slow`, they stay open but
  stop reading instead, as apps sent to the background. Either way they count no more.
- `{"cmd": "close"}`, `{"cmd": "exit"}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from bench.live_launch import raise_open_files

PROTOCOL = "graphql-transport-ws"
SAMPLE = 5


class Sockets:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []
        self.counts: list[int] = []
        self.first = 0.0
        self.last = 0.0
        self.pending = 0
        self.all_in = asyncio.Event()
        self.stray = 0
        self.errors: list[str] = []
        self.closes: Counter[str] = Counter()
        self.armed = False
        self.gone: set[int] = set()
        self.ack_stalls = 0
        self.progress_at = 0.0  # monotonic time of the latest socket's first frame

    def _note(self, problem: str) -> None:
        if len(self.errors) < SAMPLE:
            self.errors.append(problem[:300])

    async def _read(self, index: int, socket: ClientConnection) -> None:
        try:
            async for raw in socket:
                now = time.time()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "next":
                    if not self.armed:
                        self.stray += 1
                        continue
                    self.counts[index] += 1
                    self.first = self.first or now
                    self.last = max(self.last, now)
                    if self.counts[index] == 1:
                        self.pending -= 1
                        self.progress_at = time.monotonic()
                        if self.pending == 0:
                            self.all_in.set()
                    if "errors" in message.get("payload", {}):
                        self._note(f"next with errors: {message['payload']['errors']}")
                elif kind in ("error", "complete"):
                    self._note(f"{kind}: {raw!s}")
        except websockets.ConnectionClosed:
            pass
        rcvd = socket.close_rcvd
        self.closes[f"{rcvd.code} {rcvd.reason}" if rcvd else "no close frame"] += 1

    async def _open(
        self, url: str, token: str | None, subscribe: str, deflate: bool, stall: float
    ) -> ClientConnection:
        socket = await connect(
            url,
            subprotocols=[PROTOCOL],
            compression="deflate" if deflate else None,
            ping_interval=None,
            open_timeout=stall,
            close_timeout=5,
        )
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            ack = json.loads(await asyncio.wait_for(socket.recv(), stall))
        except TimeoutError:
            self.ack_stalls += 1
            socket.transport.abort()
            raise TimeoutError(f"no connection_ack within {stall:.0f} s") from None
        if ack.get("type") != "connection_ack":
            await socket.close()
            raise RuntimeError(f"expected connection_ack, got {ack}")
        await socket.send(subscribe)
        return socket

    async def connect(
        self,
        url: str,
        tokens: list[str | None],
        query: str,
        wave: int,
        deflate: bool,
        stall: float = 120.0,
    ) -> dict:
        started = time.perf_counter()
        subscribe = json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}})
        failed = 0
        for start in range(0, len(tokens), wave):
            batch = tokens[start : start + wave]
            opened = await asyncio.gather(
                *(self._open(url, token, subscribe, deflate, stall) for token in batch),
                return_exceptions=True,
            )
            for socket in opened:
                if isinstance(socket, BaseException):
                    failed += 1
                    self._note(f"connect: {type(socket).__name__}: {socket}")
                    continue
                index = len(self.sockets)
                self.sockets.append(socket)
                self.counts.append(0)
                self.readers.append(asyncio.create_task(self._read(index, socket)))
        return {
            "connected": len(self.sockets),
            "failed": failed,
            "seconds": time.perf_counter() - started,
            "errors": self.errors,
            "ack_stalls": self.ack_stalls,
        }

    def arm(self) -> dict:
        stray = self.stray
        self.counts = [0] * len(self.sockets)
        self.first = self.last = 0.0
        self.pending = len(self.sockets) - len(self.gone)
        self.progress_at = time.monotonic()
        self.all_in = asyncio.Event()
        if self.pending == 0:
            self.all_in.set()
        self.stray = 0
        self.armed = True
        return {"stray": stray, "open": len(self.sockets) - sum(self.closes.values())}

    async def collect(self, within: float, grace: float, stall: float) -> dict:
        """Waits for every socket's frame; gives up at `within`, or after `stall` seconds in
        which no further socket got its first frame (reported as a stall)."""
        deadline = time.monotonic() + within
        stalled = ""
        while not self.all_in.is_set():
            now = time.monotonic()
            if now >= deadline:
                break
            if now - self.progress_at >= stall:
                stalled = (
                    f"no socket got its frame for {stall:.0f} s; still waiting on "
                    f"{self.pending:,} of {len(self.sockets) - len(self.gone):,}"
                )
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.all_in.wait(), min(1.0, deadline - now))
        await asyncio.sleep(grace)
        self.armed = False
        histogram = Counter(c for i, c in enumerate(self.counts) if i not in self.gone)
        return {
            "stalled": stalled,
            "received": {str(k): v for k, v in sorted(histogram.items())},
            "first": self.first,
            "last": self.last,
            "errors": self.errors,
            "closes": dict(self.closes),
        }

    def vanish(self, count: int, slow: bool = False) -> dict:
        """The last `count` live sockets reset their connections without a close frame, or
        (`slow`) stop reading."""
        live = [i for i in range(len(self.sockets)) if i not in self.gone]
        for index in live[len(live) - count :] if count else []:
            self.gone.add(index)
            transport = self.sockets[index].transport
            if slow:
                transport.pause_reading()
            else:
                transport.abort()
        return {"gone": len(self.gone)}

    async def close(self) -> dict:
        sockets, readers = self.sockets, self.readers
        for start in range(0, len(sockets), 500):
            await asyncio.gather(
                *(s.close() for s in sockets[start : start + 500]), return_exceptions=True
            )
        await asyncio.gather(*readers, return_exceptions=True)
        self.reset()
        return {"closed": len(sockets)}


async def serve() -> None:
    raise_open_files()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)  # a command carries its tokens
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    sockets = Sockets()
    while line := await reader.readline():
        command: dict[str, Any] = json.loads(line)
        cmd = command["cmd"]
        if cmd == "connect":
            answer = await sockets.connect(
                command["url"],
                command["tokens"],
                command["query"],
                command.get("wave", 100),
                command.get("deflate", True),
                command.get("stall", 120.0),
            )
        elif cmd == "arm":
            answer = sockets.arm()
        elif cmd == "collect":
            answer = await sockets.collect(
                command["timeout"], command["grace"], command.get("stall", command["timeout"])
            )
        elif cmd == "vanish":
            answer = sockets.vanish(command["count"], command.get("slow", False))
        elif cmd == "close":
            answer = await sockets.close()
        elif cmd == "exit":
            break
        else:
            answer = {"error": f"unknown command {cmd!r}"}
        print(json.dumps(answer), flush=True)


def main() -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve())
    else:
        uvloop.run(serve())


if __name__ == "__main__":
    main()
