"""The issue's outage, for real: 500 emails through a real worker loop, the SMTP relay
(aiosmtpd) stopped in the middle and kept down for a minute, then started again on the same
port. Every delivery ends SENT, none FAILED, and the minute spent no attempts: the provider's
circuit breaker held the deliveries and probed until the relay answered."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
from aiosmtpd.controller import Controller

from tests.conftest import Api, data, make_settings
from tests.delivery.conftest import smtp_settings
from tests.delivery.support import create_category
from tidings.api.app import create_app
from tidings.core.delivery.breaker import BreakerOptions, BreakerState
from tidings.core.delivery.worker import DeliveryWorker, WorkerOptions
from tidings.core.enums import DeliveryStatus, Role
from tidings.core.models import Customer
from tidings.core.models.messages import Delivery
from tidings.schema.ids import to_global_id

EMAILS = 500
OUTAGE_SECONDS = 60
SEND = """
mutation($i: SendInput!) { send(input: $i) { message { id } errors { code message } } }
"""
# Probes every second at first, at most every four: the test waits seconds, not minutes,
# for the relay's return to be noticed.
BREAKER = BreakerOptions(probe_after=1.0, max_probe_interval=4.0, release_rate=200, release_for=5)


async def wait_for(condition, within: float, step: float = 0.01) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(step)


async def statuses() -> Counter:
    return Counter(await Delivery.all().values_list("status", flat=True))


async def test_a_minute_without_the_relay_fails_nothing_and_spends_no_attempts(db, smtp):
    port = smtp.controller.port
    settings = make_settings(db, **smtp_settings(port), TIDINGS_IN_PROCESS_WORKER="false")
    app = create_app(settings, manage_database=False)
    runtime = app.state.runtime
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        api = Api(client=c, app=app)
        _, token = await api.staff(Role.ADMIN)
        await create_category(api, token, "orders", "TRANSACTIONAL", defaultChannels=["email"])
        customers = [
            Customer(external_id=f"outage-{n}", name=f"C{n}", email=f"c{n}@example.com")
            for n in range(EMAILS)
        ]
        await Customer.bulk_create(customers)
        sent = data(
            await api.gql(
                SEND,
                {
                    "i": {
                        "idempotencyKey": "outage",
                        "category": "orders",
                        "to": {"customerIds": [to_global_id("Customer", c.id) for c in customers]},
                        "content": {"title": "Your order", "body": "It is on its way."},
                    }
                },
                token,
            )
        )["send"]
        assert sent["errors"] == []

    worker = DeliveryWorker(
        runtime.registry,
        runtime.worker.tiers,
        WorkerOptions(batch_size=20, idle_sleep=0.1, breaker=BREAKER),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await wait_for(lambda: _received_at_least(smtp, 150), within=60)
        smtp.controller.stop()  # the relay goes away mid-campaign
        down_at = time.monotonic()
        await asyncio.sleep(1)
        assert worker.breakers["smtp"].state is not BreakerState.CLOSED
        await asyncio.sleep(OUTAGE_SECONDS - (time.monotonic() - down_at))
        counts = await statuses()
        assert counts[DeliveryStatus.FAILED] == 0
        assert 0 < counts[DeliveryStatus.SENT] < EMAILS  # the outage really was in the middle

        smtp.controller = Controller(smtp, hostname="127.0.0.1", port=port)
        smtp.controller.start()  # back, on the same port
        await wait_for(_all_sent, within=60, step=0.2)
    finally:
        stop.set()
        await running
        await runtime.registry.aclose()

    rows = await Delivery.all().values_list("status", "attempts")
    assert Counter(status for status, _ in rows) == {DeliveryStatus.SENT: EMAILS}
    assert {attempts for _, attempts in rows} == {1}  # one attempt each: the outage cost none
    recipients = {rcpt for mail in smtp.received for rcpt in mail.rcpt_tos}
    assert recipients == {f"c{n}@example.com" for n in range(EMAILS)}


async def _received_at_least(smtp, count: int) -> bool:
    return len(smtp.received) >= count


async def _all_sent() -> bool:
    return (await statuses())[DeliveryStatus.SENT] == EMAILS
