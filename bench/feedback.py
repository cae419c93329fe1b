"""Feedback ingestion: signed SMS receipts per second through `POST /feedback/http-sms` of a
`tidings serve` process on PostgreSQL (verify, parse, match the delivery, keep the event,
move it to DELIVERED, announce it), beside a bare Starlette endpoint that verifies and parses
the same bodies and records nothing. Every receipt names a different SENT delivery, so none
is a cheap duplicate. Both measured in interleaved rounds by the same closed-loop driver."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx

from bench import dataset, sealed, servers
from bench.load import Budget, Request, Stats, interleaved
from tidings.core import db
from tidings.core.enums import DeliveryStatus, MessageStatus
from tidings.core.models import Customer, Delivery, DeliveryEvent, Message

GOAL = 0.5  # the issue's: at least half the bare endpoint's receipts per second
OURS = "ours"
BASE = "baseline"


class BenchmarkError(RuntimeError):
    """An answer was wrong: the figures would not mean anything."""


@dataclass(frozen=True)
class FeedbackResult:
    ours: Stats
    baseline: Stats
    recorded: int

    @property
    def ratio(self) -> float:
        return self.ours.rps / self.baseline.rps

    def rows(self) -> list[tuple[str, str, str, str]]:
        o, b = self.ours, self.baseline
        return [
            ("feedback receipts: req/s", f"{o.rps:.0f}", f"{b.rps:.0f}", f"{b.rps / o.rps:.2f}x"),
            ("feedback receipts: p50 ms", f"{o.p50:.2f}", f"{b.p50:.2f}", f"{o.p50 / b.p50:.2f}x"),
            ("feedback receipts: p99 ms", f"{o.p99:.2f}", f"{b.p99:.2f}", f"{o.p99 / b.p99:.2f}x"),
        ]

    def describe(self) -> str:
        return (
            f"- feedback: ours = signed SMS receipts to `POST /feedback/http-sms` of `tidings "
            f"serve` on PostgreSQL, each for another SENT delivery ({self.ours.requests} "
            f"measured, {self.recorded} events recorded in all, warm-up included); baseline = "
            f"a bare Starlette endpoint under the same uvicorn verifying and parsing the same "
            f"bodies, recording nothing ({self.baseline.requests}). Ours takes "
            f"{self.ratio:.2f}x the baseline's receipts per second."
        )

    def goal(self) -> str:
        verdict = "MET" if self.ratio >= GOAL else "NOT MET"
        return (
            f"Goal (feedback at least {GOAL}x the bare endpoint's receipts per second): "
            f"{verdict}: {self.ratio:.2f}x."
        )


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def seed(receipts: int) -> None:
    """One customer, one message, and `receipts` SENT SMS deliveries, vendor ids sms-<n>."""
    customer = await Customer.create(external_id="bench-feedback", phone="+15550000000")
    message = await Message.create(
        category="bench",
        status=MessageStatus.ACCEPTED,
        idempotency_scope="bench",
        idempotency_key="feedback",
        request_hash="-",
        audience={},
        created_by="bench",
    )
    rows = [
        Delivery(
            message_id=message.id,
            customer_id=customer.id,
            channel="sms",
            status=DeliveryStatus.SENT,
            provider="http-sms",
            provider_id=f"sms-{n}",
        )
        for n in range(receipts)
    ]
    await Delivery.bulk_create(rows, batch_size=1000)


def poster(
    client: httpx.AsyncClient, url: str, secret: str, ids: Callable[[], int], who: str
) -> Request:
    async def request() -> None:
        body = json.dumps({"message_id": f"sms-{ids()}", "status": "delivered"}).encode()
        headers = {"content-type": "application/json", "x-tidings-signature": sign(secret, body)}
        answer = await client.post(url, content=body, headers=headers)
        if answer.status_code != 200 or answer.json().get("recorded") != 1:
            raise BenchmarkError(f"{who}: HTTP {answer.status_code}, {answer.text[:200]}")

    return request


@contextlib.asynccontextmanager
async def serving(url: str, secret: str) -> AsyncIterator[tuple[str, str]]:
    ours_port, base_port = servers.free_port(), servers.free_port()
    env = {
        "TIDINGS_ENV": "production",
        "TIDINGS_DATABASE_URL": url,
        "TIDINGS_SECRET_KEY": secrets.token_urlsafe(48),
        "TIDINGS_PUBLIC_URL": "https://notify.bench.example",
        "TIDINGS_IN_PROCESS_WORKER": "false",
        "TIDINGS_SMS_URL": "http://127.0.0.1:9/unused",  # never called: nothing is sent
        "TIDINGS_SMS_API_KEY": secrets.token_urlsafe(16),
        "TIDINGS_SMS_FROM": "Bench",
        "TIDINGS_SMS_WEBHOOK_SECRET": secret,
        **sealed.bench_env(),
    }
    base_argv = [sys.executable, "-m", "bench.feedback_baseline", str(base_port)]
    base_env = {"BENCH_SMS_SECRET": secret, "PYTHONPATH": str(servers.REPO)}
    async with (
        servers.running("tidings serve", servers.tidings_argv(ours_port), env, ours_port) as ours,
        servers.running("feedback baseline", base_argv, base_env, base_port) as base,
    ):
        yield ours, base


async def run(budget: Budget) -> FeedbackResult:
    print("  … feedback: seeding SENT deliveries", file=sys.stderr, flush=True)
    receipts = budget.warmup + budget.requests + budget.workers
    url = await dataset.create_database()
    secret = secrets.token_urlsafe(32)
    try:
        await dataset.migrate(url)
        await seed(receipts)
        counter = itertools.count()
        limits = httpx.Limits(max_connections=budget.workers)
        async with serving(url, secret) as (ours, base), httpx.AsyncClient(limits=limits) as client:
            print("  … feedback: measuring", file=sys.stderr, flush=True)
            stats = await interleaved(
                {
                    OURS: poster(
                        client, f"{ours}/feedback/http-sms", secret, counter.__next__, OURS
                    ),
                    BASE: poster(
                        client,
                        f"{base}/feedback/http-sms",
                        secret,
                        itertools.count().__next__,
                        BASE,
                    ),
                },
                budget,
            )
        recorded = await DeliveryEvent.all().count()
        delivered = await Delivery.filter(status=DeliveryStatus.DELIVERED).count()
        if recorded != delivered or recorded != next(counter):
            raise BenchmarkError(f"feedback: {recorded} events but {delivered} delivered")
        return FeedbackResult(ours=stats[OURS], baseline=stats[BASE], recorded=recorded)
    finally:
        with contextlib.suppress(Exception):
            await db.close_db()
        await dataset.drop_database(url)
