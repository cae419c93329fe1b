"""`/healthz` (the process answers and so does its database) and `/readyz` (this process
can serve: the database answers, Redis answers when configured, and the schema has every
migration this code needs). A load balancer sends traffic by `/readyz`; an orchestrator
restarts by `/healthz`. Both are cheap: `/readyz` is one statement and, with Redis, one PING
on a fresh connection, nothing cached. The body names what failed, never an address."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tortoise import connections

from tidings.core.db import SchemaCheck

logger = logging.getLogger("tidings.health")
REDIS_TIMEOUT = 2.0


async def healthz(request: Request) -> JSONResponse:
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:  # the database did not answer; say so without detail
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


class Readiness:
    """The `/readyz` endpoint of one app."""

    def __init__(self, database_url: str, redis_url: str | None) -> None:
        self.schema = SchemaCheck(database_url)
        self.redis_url = redis_url

    async def respond(self, request: Request) -> JSONResponse:
        checks = {"database": "ok", "migrations": "ok"}
        try:
            if await self.schema.missing():
                checks["migrations"] = "behind"
        except Exception:
            checks["database"] = checks["migrations"] = "unavailable"
        if self.redis_url is not None:
            checks["redis"] = "ok" if await self._redis_answers() else "unavailable"
        failed = sorted(name for name, state in checks.items() if state != "ok")
        if failed:
            logger.warning("not ready: %s", ", ".join(f"{n} {checks[n]}" for n in failed))
            body = {"status": "unavailable", "failed": failed, "checks": checks}
            return JSONResponse(body, status_code=503)
        return JSONResponse({"status": "ok", "checks": checks})

    async def _redis_answers(self) -> bool:
        from redis.asyncio import Redis

        client = Redis.from_url(
            self.redis_url or "",
            socket_connect_timeout=REDIS_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT,
        )
        try:
            return bool(await asyncio.wait_for(client.ping(), REDIS_TIMEOUT * 2))
        except Exception:  # refused, timed out, wrong password: not ready, whatever it was
            return False
        finally:
            await client.aclose()


def health_routes(database_url: str, redis_url: str | None) -> list[Route]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", Readiness(database_url, redis_url).respond, methods=["GET"]),
    ]
