"""A STOP reply is credited to the marketing text it answers: the customer's latest within a
week; never a transactional text, never an older one. The real app sends through the local
SMS API peer, and the reply arrives signed at `POST /feedback/http-sms`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.providers.test_sms_feedback import PHONE, post, sent_text, setup
from tidings.core.enums import StatsDimension
from tidings.core.models import Delivery
from tidings.core.stats.query import delivery_stats
from tidings.core.stats.rows import DeliveryStatsQuery


async def test_a_stop_credits_the_latest_marketing_text(sms_app, sms_peer):
    api = sms_app
    admin, customer = await setup(api)
    await sent_text(api, sms_peer, admin, customer, "deals")
    await sent_text(api, sms_peer, admin, customer, "codes")  # transactional, and newer
    answer = await post(api, {"from": PHONE, "text": "STOP"})
    assert answer.json()["recorded"] == 1
    credited = dict(await Delivery.all().values_list("message__category", "unsubscribed_at"))
    assert credited["deals"] is not None and credited["codes"] is None

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    query = DeliveryStatsQuery(
        start=now - timedelta(hours=2),
        end=now + timedelta(hours=2),
        group_by=(StatsDimension.CATEGORY,),
    )
    counted = {r.category: r.unsubscribed for r in await delivery_stats(query, lambda c: True)}
    assert counted == {"deals": 1, "codes": 0}


async def test_a_stop_credits_no_text_older_than_a_week(sms_app, sms_peer):
    api = sms_app
    admin, customer = await setup(api)
    await sent_text(api, sms_peer, admin, customer, "deals")
    await Delivery.all().update(created_at=datetime.now(UTC) - timedelta(days=8))
    assert (await post(api, {"from": PHONE, "text": "STOP"})).json()["recorded"] == 1
    assert await Delivery.filter(unsubscribed_at__isnull=False).count() == 0
