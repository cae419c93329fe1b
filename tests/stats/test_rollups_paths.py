"""The stats follow every real write path: a send through the API and the worker to a real
aiosmtpd, a bounce and opens and clicks through the feedback recorder, a conversion through
recordEvent, a one-click unsubscribe through the mail's own link, a STOP reply to a text.
Each lands in the right count, the rollups agree with a scan before and after the fold, and
the worker's rounds fold."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from tests.conftest import SECRET, data
from tests.delivery.conftest import grant, marketing_customer, send
from tests.delivery.support import rows
from tidings.api.callbacks import feedback_recorder
from tidings.core.enums import DeliveryStatus, StatsDimension
from tidings.core.models import Customer, Delivery, StatsDelta
from tidings.core.stats.fold import fold_all
from tidings.core.stats.query import delivery_stats
from tidings.core.stats.rows import DeliveryStatsQuery
from tidings.core.stats.scan import scan_delivery_stats
from tidings.plugins import Feedback, FeedbackKind

RECORD = """
mutation($i: RecordEventInput!) { recordEvent(input: $i) { event { id } errors { code } } }
"""
CREATE = """
mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } errors { code } } }
"""


def no_receipts(channel: str) -> bool:
    return False


def today() -> DeliveryStatsQuery:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return DeliveryStatsQuery(
        start=now - timedelta(days=1),
        end=now + timedelta(days=1),
        group_by=(StatsDimension.CATEGORY, StatsDimension.CHANNEL, StatsDimension.TIER),
    )


async def test_each_write_path_lands_in_its_count(mail_api, smtp):
    api = mail_api
    token, ann = await marketing_customer(api, email="ann@example.com")
    bob = data(
        await api.gql(
            CREATE,
            {"i": {"externalId": "bob", "email": "bob@example.com", "tier": "HIGH_VALUE"}},
            token,
        )
    )["createCustomer"]["customer"]["id"]
    for who in (ann, bob):
        await grant(api, token, who)
    for who, key in ((ann, "a"), (bob, "b")):
        await send(api, token, who, key)
    assert await api.runtime.worker.run_once() == 2
    sent = {d.customer_id: d for d in await Delivery.all()}
    assert {d.status for d in sent.values()} == {DeliveryStatus.SENT}
    assert {d.tier for d in sent.values()} == {"HIGH_VALUE"}
    first = await Customer.get(external_id="ann")
    second = await Customer.get(external_id="bob")

    recorder = feedback_recorder(api.runtime.services, SECRET, api.runtime.hasher)
    at = datetime.now(UTC)
    mine = str(sent[first.id].id)
    result = await recorder.record(
        "smtp",
        [
            Feedback(FeedbackKind.OPENED, delivery_id=mine, at=at),
            Feedback(FeedbackKind.CLICKED, delivery_id=mine, at=at),
            Feedback(FeedbackKind.BOUNCED, delivery_id=str(sent[second.id].id), permanent=True),
        ],
    )
    assert result.recorded == 3
    event = data(
        await api.gql(
            RECORD,
            {"i": {"idempotencyKey": "o1", "externalId": "ann", "type": "purchase",
                   "value": "42.50", "currency": "EUR"}},
            token,
        )
    )["recordEvent"]  # fmt: skip
    assert event["errors"] == []

    # The one-click link in Ann's mail names her delivery: the stats credit it.
    mail = next(m for m in smtp.received if "ann@" in str(m.message["To"]))
    [link] = [u for u in re.findall(r"<([^>]+)>", str(mail.message["List-Unsubscribe"]))
              if u.startswith("http")]  # fmt: skip
    posted = await api.client.post(
        urlsplit(link).path,
        data={"List-Unsubscribe": "One-Click"},
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert posted.status_code == 200

    query = today()
    assert await StatsDelta.all().count() > 0
    before = await delivery_stats(query, no_receipts)
    assert before == await scan_delivery_stats(query, no_receipts)
    [row] = before
    assert (row.category, row.channel, row.tier.value) == ("promos", "email", "HIGH_VALUE")
    assert (row.attempted, row.sent, row.bounced) == (2, 2, 1)
    # SMTP reports no receipts: Ann's mail counts as delivered, Bob's bounce does not.
    assert (row.delivered, row.receipts_reported) == (1, False)
    assert (row.opened, row.clicked, row.converted, row.unsubscribed) == (1, 1, 1, 1)
    assert row.revenue == Decimal("42.50")
    assert (row.delivery_rate, row.bounce_rate, row.open_rate) == (0.5, 0.5, 1.0)
    assert row.click_to_open_rate == 1.0 and row.complaint_rate == 0.0

    # With receipts reported, an unconfirmed send is not yet delivered... but an open is
    # proof of delivery.
    [confirmed] = await delivery_stats(query, lambda channel: True)
    assert (confirmed.delivered, confirmed.receipts_reported) == (1, True)

    await fold_all()
    assert await StatsDelta.all().count() == 0
    assert await delivery_stats(query, no_receipts) == before

    # A second click on the same link withdraws nothing more and counts nothing more.
    await api.client.post(
        urlsplit(link).path,
        data={"List-Unsubscribe": "One-Click"},
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    [again] = await delivery_stats(query, no_receipts)
    assert again.unsubscribed == 1


async def test_the_worker_rounds_fold_the_deltas(mail_api, smtp):
    api = mail_api
    token, ann = await marketing_customer(api)
    await grant(api, token, ann)
    message = await send(api, token, ann, "k")
    stop = asyncio.Event()
    running = asyncio.create_task(api.runtime.worker.run(stop))
    try:
        for _ in range(200):
            [row] = await rows(message)
            if row.status is DeliveryStatus.SENT and not await StatsDelta.all().count():
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running
    assert row.status is DeliveryStatus.SENT
    assert await StatsDelta.all().count() == 0
    [counted] = await delivery_stats(today(), no_receipts)
    assert (counted.attempted, counted.sent) == (1, 1)
