"""deliveryStats through the API over deliveries made by real sends: counts, rates, null
denominators, receipts (SMTP reports none, the inbox does), grouping and filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.conftest import Api, data
from tests.core.support import create_category, create_customer
from tests.delivery.conftest import grant, mail_app, marketing_customer, send
from tidings.core.enums import Role

STATS = """
query($from: DateTime!, $to: DateTime!, $g: [StatsDimension!]!, $f: StatsFilter, $tz: String) {
  deliveryStats(from: $from, to: $to, groupBy: $g, filter: $f, timezone: $tz) {
    category channel tier day messageId reason other
    attempted suppressed deferred sent delivered failed bounced complained opened clicked
    converted revenue unsubscribed
    deliveryRate bounceRate openRate clickRate conversionRate unsubscribeRate complaintRate
    clickToOpenRate receiptsReported } }
"""


def period() -> dict[str, str]:
    """Yesterday to the day after tomorrow (UTC): on quarter hours, around every send."""
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(days=1)
    return {"from": start.isoformat(), "to": (start + timedelta(days=3)).isoformat()}


async def stats(api: Api, token: str, group_by: list[str], **extra: Any) -> list[dict]:
    variables = {**period(), "g": group_by, **extra}
    return data(await api.gql(STATS, variables, token))["deliveryStats"]


async def test_smtp_counts_sent_mail_as_delivered_and_says_it_has_no_receipts(db, smtp):
    async with mail_app(db, smtp) as api:
        token, ann = await marketing_customer(api)
        await grant(api, token, ann)
        bob = (await create_customer(api, token, externalId="bob", email="bob@example.com"))["id"]
        sent = await send(api, token, ann, "stats-1")
        await send(api, token, bob, "stats-2")  # bob never granted: suppressed
        assert await api.runtime.worker.run_once() == 1
        assert len(smtp.received) == 1

        [row] = await stats(api, token, ["CHANNEL"])
        assert row["channel"] == "email"
        counts = {k: row[k] for k in ("attempted", "suppressed", "sent", "delivered", "bounced")}
        assert counts == {"attempted": 2, "suppressed": 1, "sent": 1, "delivered": 1, "bounced": 0}
        assert row["receiptsReported"] is False
        assert row["deliveryRate"] == 1.0  # not 0: SMTP sends no receipts
        assert (row["bounceRate"], row["openRate"], row["clickRate"]) == (0.0, 0.0, 0.0)
        assert row["clickToOpenRate"] is None  # nothing opened: no denominator
        assert row["revenue"] == "0"
        assert (row["category"], row["tier"], row["day"], row["other"]) == (None, None, None, False)

        rows = await stats(api, token, ["REASON"])
        by_reason = {r["reason"]: r for r in rows}
        assert set(by_reason) == {None, "NO_PERMISSION"}
        refused = by_reason["NO_PERMISSION"]
        assert (refused["attempted"], refused["suppressed"], refused["sent"]) == (1, 1, 0)
        rates = (
            "deliveryRate bounceRate openRate clickRate conversionRate unsubscribeRate "
            "complaintRate clickToOpenRate"
        ).split()
        assert {name: refused[name] for name in rates} == dict.fromkeys(rates)  # all null

        [only] = await stats(api, token, ["MESSAGE"], f={"messageIds": [sent]})
        assert (only["messageId"], only["attempted"]) == (sent, 1)
        assert await stats(api, token, ["MESSAGE"], f={"messageIds": ["bm90LWFuLWlk"]}) == []
        assert await stats(api, token, ["CHANNEL"], f={"channels": ["sms"]}) == []
        [mine] = await stats(api, token, ["CATEGORY"], f={"reasons": ["NO_PERMISSION"]})
        assert (mine["category"], mine["attempted"], mine["sent"]) == ("promos", 1, 0)
        assert await stats(api, token, ["CATEGORY"], f={"categories": ["other"]}) == []


async def test_day_is_counted_in_the_asked_time_zone(db, smtp):
    async with mail_app(db, smtp) as api:
        token, ann = await marketing_customer(api)
        await grant(api, token, ann)
        await send(api, token, ann, "stats-day")
        made = datetime.now(UTC)
        for zone in ("Asia/Shanghai", "America/Los_Angeles"):
            [row] = await stats(api, token, ["DAY"], tz=zone)
            quarter = made.replace(minute=made.minute // 15 * 15, second=0, microsecond=0)
            assert row["day"] == quarter.astimezone(ZoneInfo(zone)).date().isoformat()


async def test_the_inbox_reports_receipts(api):
    _, token = await api.staff(Role.ADMIN)
    # Transactional: no grant needed, never held for a digest.
    await create_category(api, token, "notes", kind="TRANSACTIONAL", defaultChannels=["in_app"])
    customer = (await create_customer(api, token))["id"]
    send_doc = """mutation($i: SendInput!) { send(input: $i) { errors { code } } }"""
    content = {"title": "t", "body": "b"}
    sent = {
        "idempotencyKey": "n1",
        "category": "notes",
        "to": {"customerId": customer},
        "content": content,
    }
    assert data(await api.gql(send_doc, {"i": sent}, token))["send"]["errors"] == []
    assert await api.runtime.worker.run_once() == 1
    [row] = await stats(api, token, ["CHANNEL"])
    assert (row["channel"], row["sent"], row["receiptsReported"]) == ("in_app", 1, True)
    assert row["deliveryRate"] == row["delivered"] / row["sent"]


async def test_receipts_follow_the_providers_attribute(db):
    """in_app and http-sms report receipts; smtp and fcm (and a channel no provider serves)
    do not."""
    from tests.conftest import make_settings
    from tidings.api.app import create_app

    app = create_app(
        make_settings(
            db,
            TIDINGS_SMS_URL="http://127.0.0.1:9/v1/messages",
            TIDINGS_SMS_API_KEY="k" * 32,
            TIDINGS_SMS_FROM="Shop",
            TIDINGS_SMTP_HOST="127.0.0.1",
            TIDINGS_SMTP_FROM="news@example.com",
        ),
        manage_database=False,
    )
    from tidings.providers.fcm import FcmPushProvider
    from tidings.providers.smtp import SmtpEmailProvider

    # Neither declares receipts (FCM is not configured here, so push has no provider at all).
    assert not hasattr(SmtpEmailProvider, "reports_receipts")
    assert not hasattr(FcmPushProvider, "reports_receipts")
    receipts = app.state.runtime.services.stats.receipts
    assert {c: receipts(c) for c in ("in_app", "sms", "email", "push", "chat")} == {
        "in_app": True,
        "sms": True,
        "email": False,
        "push": False,
        "chat": False,
    }
    app.state.runtime.templates.close()


async def test_more_than_ten_thousand_rows_asks_to_narrow(api):
    """10,001 messages of one delivery each, grouped by MESSAGE: refused, naming the fix; the
    same deliveries grouped by CHANNEL answer."""
    from tidings.core.enums import DeliveryStatus, MessageStatus
    from tidings.core.ids import new_id
    from tidings.core.models import Customer
    from tidings.core.models.messages import Delivery, Message

    _, token = await api.staff(Role.MARKETER)
    customer = await Customer.create(external_id="many")
    messages = [
        Message(
            id=new_id(),
            category="bulk",
            status=MessageStatus.EXPANDED,
            idempotency_scope="s",
            idempotency_key=f"k{n}",
            request_hash="-",
            audience={},
            created_by="test",
        )
        for n in range(10_001)
    ]
    await Message.bulk_create(messages, batch_size=1000)
    await Delivery.bulk_create(
        [
            Delivery(
                message_id=m.id,
                customer_id=customer.id,
                channel="email",
                status=DeliveryStatus.SENT,
            )
            for m in messages
        ],
        batch_size=1000,
    )
    result = await api.gql(STATS, {**period(), "g": ["MESSAGE"]}, token)
    assert result["data"] == {"deliveryStats": None}
    [error] = result["errors"]
    assert error["extensions"]["reason"] == "TOO_MANY_ROWS"
    assert "narrow" in error["message"]
    [row] = await stats(api, token, ["CHANNEL"])
    assert row["attempted"] == 10_001
