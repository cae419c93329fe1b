"""Benchmark B5's tracking figure (issue 12): what engagement tracking costs on email. The
same queued email deliveries (an HTML part and a text part, each with LINKS web links; 2,000
per side by default, BENCH_EMAILS overrides) delivered by `DeliveryWorker.drain` loops
through the real SMTP provider to the local aiosmtpd sink (its own process), by two workers
in the same process over the same provider: one with tracking (every link rewritten to a
signed `/t/c/` URL, an open pixel added), one without. Measured in interleaved rounds, the
order swapped each round. The goal: tracked at most 10% slower."""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass

import asyncpg

from bench import dataset, fanout_data, mail, sealed
from bench.customers_page import BenchmarkError, progress

ROUNDS = 10
WARMUP = 50
CATEGORY = "offers"
LINKS = 5
PAGES = [f"https://shop.example/sale/{n}?item={n}&ref=newsletter" for n in range(LINKS)]
TITLE = "Spring sale"
BODY = "Our spring sale starts today.\n" + "\n".join(f"Item {n}: {u}" for n, u in enumerate(PAGES))
ITEMS = "".join(
    f'<li><a href="{u.replace("&", "&amp;")}">Item {n}</a></li>' for n, u in enumerate(PAGES)
)
HTML = (
    "<html><body><h1>Spring sale</h1><p>Our spring sale starts today.</p>"
    f"<ul>{ITEMS}</ul></body></html>"
)
# The goal: tracking makes email at most 10% slower.
GOAL = 1.10


@dataclass(frozen=True)
class TrackingResult:
    emails: int  # per side
    tracked_seconds: float
    plain_seconds: float
    rewrite_us: float  # rewriting one mail's links alone, in microseconds

    @property
    def ratio(self) -> float:
        return self.tracked_seconds / self.plain_seconds

    def rows(self) -> list[tuple[str, str, str, str]]:
        return [
            (
                f"email {self.emails:,} with {LINKS} links: msg/s tracked vs not",
                f"{self.emails / self.tracked_seconds:.0f}",
                f"{self.emails / self.plain_seconds:.0f}",
                f"{self.ratio:.2f}x",
            )
        ]

    def describe(self) -> str:
        return (
            f"- tracking: ours = DeliveryWorker.drain loops with engagement tracking ({LINKS} "
            f"links in each of the HTML and text parts rewritten and signed, an open pixel), "
            f"{self.tracked_seconds:.2f} s for {self.emails:,} emails; baseline = the same "
            f"mail, same process, same provider and sink, without tracking, "
            f"{self.plain_seconds:.2f} s. {ROUNDS} interleaved rounds, order swapped each round. "
            f"Tracked mail takes {self.ratio:.2f}x the time. Rewriting alone costs "
            f"{self.rewrite_us:.0f} µs a mail (of {1e6 * self.plain_seconds / self.emails:.0f} µs "
            "each end to end)."
        )

    def goal(self) -> str:
        verdict = "MET" if self.ratio <= GOAL else "NOT MET"
        return f"Goal (tracked email at most {GOAL:.2f}x the time): {verdict}: {self.ratio:.2f}x."


async def _queue(services: object, viewer: object, ids: list, key: str) -> None:
    from tidings.core.delivery.sending import SendRequest

    for start in range(0, len(ids), 1000):
        await services.sending.send(  # type: ignore[attr-defined]
            viewer,
            SendRequest(
                idempotency_key=f"{key}-{start}",
                category=CATEGORY,
                customer_ids=tuple(ids[start : start + 1000]),
                title=TITLE,
                body=BODY,
                html=HTML,
            ),
        )


async def run(emails: int) -> TrackingResult:
    from tidings.core import db
    from tidings.core.delivery.registry import ProviderRegistry
    from tidings.core.delivery.tiers import TierPolicies
    from tidings.core.delivery.worker import DeliveryWorker
    from tidings.core.enums import Role
    from tidings.core.ids import new_id
    from tidings.core.services import Services
    from tidings.core.tracking import TrackingSigner
    from tidings.core.viewer import Viewer, ViewerKind
    from tidings.providers.smtp import SmtpEmailProvider, SmtpSettings

    per_round = -(-emails // ROUNDS)
    total = 2 * (WARMUP + per_round * ROUNDS)
    progress(f"tracking: a scratch database with {total:,} customers")
    url = await dataset.create_database()
    seconds = {"plain": 0.0, "tracked": 0.0}
    try:
        await dataset.migrate(url)
        await db.close_db()
        await fanout_data.load(url, total)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "INSERT INTO categories (id, key, name, kind, default_channels,"
                " respect_quiet_hours, required, track_engagement, created_at, updated_at)"
                " VALUES ($1, $2, 'Offers', 'TRANSACTIONAL', '[\"email\"]', FALSE, FALSE, TRUE,"
                " now(), now())",
                new_id(),
                CATEGORY,
            )
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM customers ORDER BY id")]
        finally:
            await conn.close()
        await db.init_db(url, keyring=sealed.KEYRING)
        tiers = TierPolicies()
        services = Services.build(frozenset({"email"}), tiers)
        viewer = Viewer(ViewerKind.STAFF, new_id(), Role.ADMIN)
        signer = TrackingSigner(secrets.token_urlsafe(48), "https://notify.shop.example")
        async with mail.sink() as (port, received):
            settings = SmtpSettings(
                host="127.0.0.1", port=port, sender=mail.SENDER, security="none"
            )
            registry = ProviderRegistry([SmtpEmailProvider(settings)])
            # As `serve` builds them, with TIDINGS_TRACKING on and off.
            options = mail.worker_options()
            workers = {
                "plain": DeliveryWorker(registry, tiers, options, links=services.links),
                "tracked": DeliveryWorker(
                    registry, tiers, options, links=services.links, tracking=signer
                ),
            }
            try:
                progress(f"tracking: warm-up, then {ROUNDS} rounds of {per_round:,} each way")
                at = 0
                for side, worker in workers.items():
                    await _queue(services, viewer, ids[at : at + WARMUP], f"warm-{side}")
                    await worker.drain()
                    at += WARMUP
                for r in range(ROUNDS):
                    order = ["plain", "tracked"] if r % 2 == 0 else ["tracked", "plain"]
                    for side in order:
                        chunk = ids[at : at + per_round]
                        at += per_round
                        await _queue(services, viewer, chunk, f"round-{r}-{side}")
                        started = time.perf_counter()
                        await workers[side].drain()
                        seconds[side] += time.perf_counter() - started
            finally:
                await registry.aclose()
        sent = await mail._count_sent(url)
    finally:
        with contextlib.suppress(Exception):
            await db.close_db()
        await dataset.drop_database(url)
    if sent != total or received != [total]:
        raise BenchmarkError(f"tracking: {sent} SENT, sink got {received}; want {total}")
    return TrackingResult(
        per_round * ROUNDS, seconds["tracked"], seconds["plain"], _rewrite_cost(signer)
    )


def _rewrite_cost(signer: object, mails: int = 2_000) -> float:
    """Microseconds to rewrite one mail's links and add its pixel, in this process."""
    import uuid

    from tidings.core.delivery.engagement_links import EngagementLinks
    from tidings.core.delivery.render import Content

    links = EngagementLinks(signer)  # type: ignore[arg-type]
    content = Content(TITLE, BODY, HTML)
    started = time.perf_counter()
    for _ in range(mails):
        links.content(content, uuid.uuid4())
    return (time.perf_counter() - started) / mails * 1e6
