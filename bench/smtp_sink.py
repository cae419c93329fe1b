"""A tiny SMTP sink for the email benchmark, in a process of its own so the client side does
not share an interpreter with it: `python -m bench.smtp_sink PORT`.

It accepts everything, keeps only a count, prints `READY` once listening and `RECEIVED n` when
stopped with SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

from aiosmtpd.smtp import SMTP


class CountingHandler:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: SMTP, session: object, envelope: object) -> str:
        self.received += 1
        return "250 2.0.0 Ok: queued"


async def serve(port: int) -> int:
    handler = CountingHandler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="bench-sink"), host="127.0.0.1", port=port
    )
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print("READY", flush=True)
    await stop.wait()
    server.close()
    return handler.received


def main() -> None:
    try:
        import uvloop
    except ImportError:
        received = asyncio.run(serve(int(sys.argv[1])))
    else:
        received = uvloop.run(serve(int(sys.argv[1])))
    print(f"RECEIVED {received}", flush=True)


if __name__ == "__main__":
    main()
