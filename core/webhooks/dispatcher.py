"""The webhook dispatcher: claim due outbox rows under a lease, POST each one signed, record
the answer, retry with capped exponential backoff.

Claims follow core/delivery/claims.py: on PostgreSQL `FOR UPDATE SKIP LOCKED`, so any number
of dispatchers (one beside each delivery worker) take disjoint rows, and a claimed row is
leased for longer than its batch can take (`lease`), so no other process sends the same
attempt at once; on SQLite the one in-process dispatcher claims. A dispatcher that dies
leaves its rows leased until the lease runs out; they are then claimed again: delivery is at
least once, and the event id (`X-Tidings-Event-Id`, also in the body) lets the receiver
drop a repeat.

It runs as a task of its own with its own HTTP client: every request has a timeout, at most
`concurrency` are in flight, and nothing the delivery worker does waits on it, so a dead
endpoint never slows sending. Redirects are not followed (a 3xx is a failed attempt), and
the destination is checked again before each attempt (urls.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from tortoise import connections

from tidings.core.delivery.claims import _claim_pg, _sqlite_time, is_postgres
from tidings.core.enums import WebhookDeliveryStatus
from tidings.core.models import WebhookDelivery
from tidings.core.rounds import run_rounds
from tidings.core.webhooks.urls import UnsafeDestinationError, check_destination

logger = logging.getLogger("tidings.webhooks")

SIGNATURE_HEADER = "X-Tidings-Signature"
EVENT_ID_HEADER = "X-Tidings-Event-Id"


def sign(secret: str, timestamp: int, body: str) -> str:
    """The `X-Tidings-Signature` value: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@dataclass(frozen=True)
class DispatcherOptions:
    timeout: float = 10.0  # seconds, per request, connecting included
    concurrency: int = 8  # requests in flight at once
    batch_size: int = 32
    first_retry: timedelta = timedelta(seconds=10)
    max_backoff: timedelta = timedelta(hours=1)
    max_attempts: int = 30  # about a day and a half of retries
    idle_sleep: float = 1.0
    allow_private: bool = False

    @property
    def lease(self) -> timedelta:
        """Longer than a whole batch can take, one wave of `concurrency` requests at a time."""
        waves = math.ceil(self.batch_size / self.concurrency) + 1
        return timedelta(seconds=self.timeout * waves + 30)

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt: 10 s, 20 s, 40 s, ... up to 1 h."""
        seconds = self.first_retry.total_seconds() * 2 ** min(max(attempts - 1, 0), 30)
        return timedelta(seconds=min(seconds, self.max_backoff.total_seconds()))


_PG = """
UPDATE webhook_deliveries SET locked_until = $1, attempts = attempts + 1, updated_at = $2
WHERE id = ANY(ARRAY(
    SELECT id FROM webhook_deliveries
    WHERE status = 'PENDING' AND next_attempt_at <= $2
      AND (locked_until IS NULL OR locked_until < $2)
    ORDER BY next_attempt_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
))
RETURNING id
"""

_SQLITE = """
UPDATE webhook_deliveries SET locked_until = ?, attempts = attempts + 1, updated_at = ?
WHERE id IN (
    SELECT id FROM webhook_deliveries
    WHERE status = 'PENDING' AND next_attempt_at <= ?
      AND (locked_until IS NULL OR locked_until < ?)
    ORDER BY next_attempt_at, id
    LIMIT ?
)
RETURNING id
"""


async def claim_due(now: datetime, limit: int, lease: timedelta) -> list[uuid.UUID]:
    """Lease up to `limit` PENDING rows whose next attempt is due, counting the attempt."""
    until = now + lease
    if is_postgres():
        rows = await _claim_pg(_PG, [until, now, limit])
    else:
        iso = _sqlite_time
        rows = await connections.get("default").execute_query_dict(
            _SQLITE, [iso(until), iso(now), iso(now), iso(now), limit]
        )
    return [uuid.UUID(str(row["id"])) for row in rows]


class WebhookDispatcher:
    def __init__(
        self,
        options: DispatcherOptions | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.options = options or DispatcherOptions()
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.wakeup = asyncio.Event()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.options.timeout),
                follow_redirects=False,
                transport=self._transport,
                headers={"User-Agent": "Tidings-Webhooks/1"},
                trust_env=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop` is set; sleeps briefly when nothing is due."""
        try:
            await run_rounds(
                self.run_once, stop, self.wakeup, self.options.idle_sleep, logger, "webhook"
            )
        finally:
            await self.aclose()

    async def run_once(self, now: datetime | None = None) -> int:
        """Claim one batch of due rows and attempt each. Returns how many it attempted."""
        now = now or datetime.now(UTC)
        options = self.options
        ids = await claim_due(now, options.batch_size, options.lease)
        if not ids:
            return 0
        rows = await WebhookDelivery.filter(id__in=ids).select_related("webhook").order_by("id")
        gate = asyncio.Semaphore(options.concurrency)

        async def attempt(row: WebhookDelivery) -> None:
            async with gate:
                await self._attempt(row, now)

        await asyncio.gather(*(attempt(row) for row in rows))
        return len(rows)

    async def _attempt(self, row: WebhookDelivery, now: datetime) -> None:
        hook = row.webhook
        if hook.deleted_at is not None:  # deleted after the claim: nothing more is sent
            await _record(row, status=WebhookDeliveryStatus.CANCELLED, locked_until=None)
            return
        code: int | None = None
        try:
            await check_destination(hook.url, self.options.allow_private)
            timestamp = int(time.time())
            response = await self._http().post(
                hook.url,
                content=row.body.encode(),
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(hook.secret, timestamp, row.body),
                    EVENT_ID_HEADER: str(row.event_id),
                    "X-Tidings-Event-Type": row.event_type,
                },
            )
            code = response.status_code
            error = None if 200 <= code < 300 else f"HTTP {code}"
        except UnsafeDestinationError as problem:
            error = str(problem)
        except httpx.TimeoutException:
            error = f"no answer within {self.options.timeout:g} s"
        except (httpx.HTTPError, OSError) as problem:
            # The exception's class only: its text may quote the URL (a token in its path).
            error = f"connection failed ({type(problem).__name__})"
        if error is None:
            await _record(
                row,
                status=WebhookDeliveryStatus.DELIVERED,
                delivered_at=datetime.now(UTC),
                locked_until=None,
                last_status_code=code,
                last_error=None,
            )
            return
        logger.info("webhook %s attempt %d failed: %s", row.id, row.attempts, error)
        if row.attempts >= self.options.max_attempts:
            await _record(
                row,
                status=WebhookDeliveryStatus.FAILED,
                locked_until=None,
                next_attempt_at=None,
                last_status_code=code,
                last_error=error,
            )
            return
        await _record(
            row,
            locked_until=None,
            next_attempt_at=now + self.options.backoff(row.attempts),
            last_status_code=code,
            last_error=error,
        )


async def _record(row: WebhookDelivery, **values: object) -> None:
    """Write an attempt's outcome unless the row left PENDING meanwhile (deleteWebhook)."""
    await WebhookDelivery.filter(id=row.id, status=WebhookDeliveryStatus.PENDING).update(
        **values, updated_at=datetime.now(UTC)
    )
