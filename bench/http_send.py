"""B6: push and SMS throughput end to end, to local fakes of FCM and an SMS API
(bench/http_fakes.py, a process of their own). N queued deliveries per channel (1,000 by
default, BENCH_HTTP_MESSAGES overrides) delivered by `DeliveryWorker.drain` (the concurrent
delivery loops a worker's rounds run, TIDINGS_WORKER_CONCURRENCY of them) through the real
providers: push through firebase-admin's own code (OAuth token exchange included, against
the fake's token endpoint), SMS through the http-sms provider. Beside each, a bare
httpx loop posting the same payloads to the same fake with the same concurrency (100 in
flight for FCM, 20 for SMS, as the providers allow). Measured in interleaved rounds."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import dataset, http_baseline, mail
from bench.customers_page import BenchmarkError, progress
from bench.http_baseline import BODY, PROJECT, TITLE
from bench.summary import GoalRow

GOAL = 0.8  # issue 15: at least 0.8x a bare httpx loop's messages per second
DEFAULT_MESSAGES = 1_000
ROUNDS = 4
WARMUP = 50
SMS_KEY = "bench-sms-key"  # the fake accepts any key


@dataclass(frozen=True)
class ChannelFigures:
    channel: str  # "push" or "sms"
    messages: int
    ours_seconds: float
    baseline_seconds: float
    in_flight: int

    @property
    def ratio(self) -> float:
        """Ours' messages per second over the bare loop's (higher is better)."""
        return self.baseline_seconds / self.ours_seconds


@dataclass(frozen=True)
class HttpSendResult:
    push: ChannelFigures
    sms: ChannelFigures

    def rows(self) -> list[tuple[str, str, str, str]]:
        return [
            (
                f"B6 {f.channel} {f.messages:,} to a local fake: msg/s",
                f"{f.messages / f.ours_seconds:.0f}",
                f"{f.messages / f.baseline_seconds:.0f}",
                f"{1 / f.ratio:.2f}x",
            )
            for f in (self.push, self.sms)
        ]

    def describe(self) -> str:
        p, s = self.push, self.sms
        return (
            f"- B6: ours = DeliveryWorker.drain's loops (claim, re-check, render, provider, "
            f"record) over {p.messages:,} queued push and {s.messages:,} SMS deliveries: push "
            f"{p.ours_seconds:.2f} s through firebase-admin's send_each_async ({p.in_flight} in "
            f"flight), SMS {s.ours_seconds:.2f} s through the http-sms provider ({s.in_flight} in "
            f"flight). Baseline = one httpx.AsyncClient posting the same JSON bodies, built "
            f"before the clock, with the same concurrency: push {p.baseline_seconds:.2f} s, SMS "
            f"{s.baseline_seconds:.2f} s. Same fake server (uvicorn, its own process), "
            f"{ROUNDS} interleaved rounds. Ours is {p.ratio:.2f}x (push) and {s.ratio:.2f}x "
            "(SMS) the bare loop's messages per second."
        )

    def goal(self) -> str:
        met = self.push.ratio >= GOAL and self.sms.ratio >= GOAL
        return (
            f"Goal (B6 push and SMS at least {GOAL}x a bare httpx loop): "
            f"{'MET' if met else 'NOT MET'}: push {self.push.ratio:.2f}x, "
            f"SMS {self.sms.ratio:.2f}x."
        )

    def summary(self) -> list[GoalRow]:
        return [
            GoalRow(
                f"B6 {f.channel}",
                f"{f.channel} msg/s, {f.in_flight} in flight",
                f"{f.messages / f.ours_seconds:.0f}/s",
                f"{f.messages / f.baseline_seconds:.0f}/s",
                f.ratio,
                GOAL,
                at_least=True,
            )
            for f in (self.push, self.sms)
        ]


def messages_from_env() -> int:
    return int(os.environ.get("BENCH_HTTP_MESSAGES", str(DEFAULT_MESSAGES)))


async def run(messages: int) -> HttpSendResult:
    from tidings.core import db
    from tidings.core.delivery.registry import ProviderRegistry
    from tidings.core.delivery.tiers import TierPolicies
    from tidings.core.delivery.worker import DeliveryWorker
    from tidings.core.enums import Platform, Role
    from tidings.core.ids import new_id
    from tidings.core.models import Device
    from tidings.core.services import Services
    from tidings.core.services.customers import device_token_hash
    from tidings.core.viewer import Viewer, ViewerKind
    from tidings.providers import fcm, sms
    from tidings.providers._common import Secret

    per_round = -(-messages // ROUNDS)
    total = WARMUP + per_round * ROUNDS
    progress(f"B6: a scratch database with {2 * total:,} customers and {total:,} devices")
    url = await dataset.create_database()
    push_s = push_b = sms_s = sms_b = 0.0
    try:
        rows = await mail.prepare(url, 2 * total)  # fan-out customers: odd ones have a phone
        phoned = [r["id"] for r in rows[1::2]][:total]
        phones = await _phones(url, phoned)
        pushed = [r["id"] for r in rows[0::2]][:total]
        tokens = [f"bench-device-{n:06d}-" + "x" * 120 for n in range(total)]
        for customer_id, token in zip(pushed, tokens, strict=True):
            await Device.create(
                customer_id=customer_id,
                platform=Platform.ANDROID,
                token=token,
                token_hash=device_token_hash(token),
            )
        tiers = TierPolicies()
        services = Services.build(frozenset({"push", "sms"}), tiers)
        viewer = Viewer(ViewerKind.STAFF, new_id(), Role.ADMIN)
        with tempfile.TemporaryDirectory(prefix="tidings-b6-") as scratch:
            async with http_baseline.fakes() as base:
                account = http_baseline.service_account(Path(scratch), base)
                push = fcm.FcmPushProvider(
                    fcm.FcmSettings(credentials_path=str(account), endpoint=base)
                )
                text = sms.HttpSmsProvider(
                    sms.HttpSmsSettings(url=f"{base}/sms", api_key=Secret(SMS_KEY), sender="Shop")
                )
                registry = ProviderRegistry([push, text])
                await registry.start()
                options = mail.worker_options()
                worker = DeliveryWorker(registry, tiers, options, links=services.links)
                fcm_url = f"{base}/v1/projects/{PROJECT}/messages:send"
                headers = {
                    "authorization": "Bearer bench-token",
                    "content-type": "application/json",
                }
                limits = httpx.Limits(max_connections=fcm.IN_FLIGHT)
                bare = httpx.AsyncClient(headers=headers, limits=limits, timeout=30)
                try:
                    async with bare as client:

                        async def both(part: slice, key: str) -> tuple[float, ...]:
                            """One round: bare push, ours push, bare SMS, ours SMS."""
                            timings = []
                            for channel, ids, bodies, target, in_flight in (
                                ("push", pushed, fcm_bodies, fcm_url, fcm.IN_FLIGHT),
                                ("sms", phoned, sms_bodies, f"{base}/sms", sms.CONCURRENCY),
                            ):
                                started = time.perf_counter()
                                await http_baseline.bare(client, target, bodies[part], in_flight)
                                timings.append(time.perf_counter() - started)
                                await _queue(
                                    services, viewer, ids[part], f"{key}-{channel}", channel
                                )
                                started = time.perf_counter()
                                await worker.drain()
                                timings.append(time.perf_counter() - started)
                            return tuple(timings)

                        fcm_bodies = [http_baseline.fcm_body(t, n) for n, t in enumerate(tokens)]
                        sms_bodies = [http_baseline.sms_body(p, n) for n, p in enumerate(phones)]
                        progress(f"B6: warm-up, then {ROUNDS} rounds of {per_round:,} per channel")
                        await both(slice(0, WARMUP), "warm")
                        for r in range(ROUNDS):
                            part = slice(WARMUP + r * per_round, WARMUP + (r + 1) * per_round)
                            pb, ps, sb, ss = await both(part, f"round-{r}")
                            push_b, push_s, sms_b, sms_s = (
                                push_b + pb,
                                push_s + ps,
                                sms_b + sb,
                                sms_s + ss,
                            )
                        arrived = (await client.get(f"{base}/count")).json()
                finally:
                    await registry.aclose()
        sent = await _count_sent(url)
    finally:
        with contextlib.suppress(Exception):
            await db.close_db()
        await dataset.drop_database(url)
    want = {"fcm": 2 * total, "sms": 2 * total}
    if sent != {"push": total, "sms": total} or arrived != want:
        raise BenchmarkError(f"B6: SENT {sent}, fakes received {arrived}; want {total} each way")
    measured = per_round * ROUNDS
    return HttpSendResult(
        ChannelFigures("push", measured, push_s, push_b, fcm.IN_FLIGHT),
        ChannelFigures("sms", measured, sms_s, sms_b, sms.CONCURRENCY),
    )


async def _queue(services: Any, viewer: Any, ids: list, key: str, channel: str) -> None:
    from tidings.core.delivery.send_request import SendRequest

    for start in range(0, len(ids), 1000):
        await services.sending.send(
            viewer,
            SendRequest(
                idempotency_key=f"{key}-{start}",
                category=mail.CATEGORY,
                customer_ids=tuple(ids[start : start + 1000]),
                channels=(channel,),
                title=TITLE,
                body=BODY,
            ),
        )


async def _phones(url: str, ids: list) -> list[str]:
    from bench import sealed

    conn = await asyncpg.connect(url)
    try:
        found = await conn.fetch("SELECT id, phone FROM customers WHERE id = ANY($1)", ids)
    finally:
        await conn.close()
    phone = {r["id"]: sealed.decrypted(r["phone"], "customers", "phone", r["id"]) for r in found}
    return [phone[i] for i in ids]


async def _count_sent(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        found = await conn.fetch(
            "SELECT channel, count(*) AS n FROM deliveries WHERE status = 'SENT' GROUP BY channel"
        )
    finally:
        await conn.close()
    return {r["channel"]: r["n"] for r in found}
