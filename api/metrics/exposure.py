"""Serving the metrics: at the API's `/metrics`, or on a port of their own (`tidings worker`
has no HTTP server; an operator may also keep them off the public port).

Who may read them: the output names no customer, address or message (labels are channels,
providers, statuses, reasons and kinds), but volumes and failure rates are the business's
own figures. So: a separate port bound to a private address, or TIDINGS_METRICS_TOKEN, which
every scrape must then send as `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tidings.api.metrics.instruments import Instruments
from tidings.api.metrics.scrape import PROBE_TIMEOUT, Scrape
from tidings.core.live import LiveBus

logger = logging.getLogger("tidings")

PATH = "/metrics"
MAX_HEAD = 16 * 1024
READ_TIMEOUT = 10.0


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


class Metrics:
    """One process's registry: its instruments and the scrape-time collector."""

    def __init__(
        self,
        bus: LiveBus | None,
        *,
        token: str | None = None,
        probe_timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.instruments = Instruments(self.registry)
        self.scrape = Scrape(self.instruments, bus, probe_timeout)
        self.registry.register(self.scrape)
        self._token = token
        self._lock: asyncio.Lock | None = None

    async def answer(self, method: str, path: str, authorization: str, accept: str) -> Answer:
        """The answer to one HTTP request. Scrapes run one at a time, so however often they
        come, the database sees at most one scrape's two statements at once."""
        if path != PATH:
            return Answer(404, b"Not Found\n")
        if method not in ("GET", "HEAD"):
            return Answer(405, b"Method Not Allowed\n")
        if self._token is not None and not hmac.compare_digest(
            authorization.encode(), f"Bearer {self._token}".encode()
        ):
            return Answer(401, b"Unauthorized\n")
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self.scrape.refresh()
            encoder, content_type = choose_encoder(accept)
            return Answer(200, encoder(self.registry), content_type)

    def route(self) -> Route:
        """`/metrics` on the API's own app."""

        async def endpoint(request: Request) -> Response:
            answer = await self.answer(
                request.method,
                request.url.path,
                request.headers.get("authorization", ""),
                request.headers.get("accept", ""),
            )
            return Response(answer.body, answer.status, media_type=answer.content_type)

        return Route(PATH, endpoint, methods=["GET", "HEAD"])


REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
REASONS |= {405: "Method Not Allowed", 500: "Internal Server Error"}


class MetricsPortError(Exception):
    """The metrics port cannot be listened on (taken, or not this machine's address)."""


class MetricsServer:
    """A minimal HTTP/1.1 server for `/metrics` alone, on the process's own event loop (the
    scrape reads the database through the process's ORM connections). One request per
    connection; a request head larger than 16 KiB, or slower than 10 s, is dropped."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(
                self._serve, self.host, self.port, limit=MAX_HEAD, reuse_address=True
            )
        except OSError as error:
            raise MetricsPortError(
                f"cannot serve metrics on {self.host}:{self.port} ({error.strerror or error}); "
                "choose another TIDINGS_METRICS_PORT"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]  # port 0: the one chosen
        logger.info("metrics on http://%s:%d%s", self.host, self.port, PATH)

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            try:
                answer = await self._answer(head)
            except Exception as error:  # the database is away, say: the scrape fails, loudly
                logger.warning("metrics: the scrape failed (%s)", type(error).__name__)
                answer = Answer(500, b"Internal Server Error\n")
            reason = REASONS.get(answer.status, "")
            writer.write(
                f"HTTP/1.1 {answer.status} {reason}\r\nContent-Type: {answer.content_type}\r\n"
                f"Content-Length: {len(answer.body)}\r\nConnection: close\r\n\r\n".encode()
                + (b"" if head.startswith(b"HEAD ") else answer.body)
            )
            await writer.drain()
        except (
            TimeoutError,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ):
            pass  # a client that went away, stalled or sent too much: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, head: bytes) -> Answer:
        request_line, *lines = head.decode("latin-1").split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return Answer(400, b"Bad Request\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        path = parts[1].split("?", 1)[0]
        return await self.metrics.answer(
            parts[0], path, headers.get("authorization", ""), headers.get("accept", "")
        )
