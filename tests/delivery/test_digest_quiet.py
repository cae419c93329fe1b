"""Digests, quiet hours, `required` categories and frequency caps, end to end through the
worker and a real local SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.delivery.support import (
    create_category,
    create_customer,
    grant,
    rows,
    send,
    set_preference,
    withdraw,
)
from tidings.core.enums import DeliveryStatus, Role, Tier

ZONE = "Asia/Shanghai"  # no DST: the expected times below are plain arithmetic


def next_local_hour(hour: int, zone: str, now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    at = datetime.combine(local.date(), time(hour), tzinfo=ZoneInfo(zone))
    if at <= local:
        at += timedelta(days=1)
    return at.astimezone(UTC)


def window_around(now: datetime, zone: str) -> tuple[str, str]:
    """Quiet hours from an hour ago to two hours ahead, on the customer's clock."""
    local = now.astimezone(ZoneInfo(zone))
    start, end = local - timedelta(hours=1), local + timedelta(hours=2)
    return start.strftime("%H:%M"), end.strftime("%H:%M")


async def setup(api, tier: str = "ORDINARY", **category):
    _, token = await api.staff(Role.ADMIN)
    await create_category(api, token, "promos", "MARKETING", defaultChannels=["email"], **category)
    customer = await create_customer(
        api, token, externalId="ann", name="Ann", email="ann@example.com", tier=tier, timezone=ZONE
    )
    await grant(api, token, customer["id"], "promos")
    return token, customer["id"]


async def test_ordinary_marketing_is_held_then_sent_as_one_digest(mail_api, smtp):
    api = mail_api
    token, customer = await setup(api)
    worker = api.runtime.worker
    before = datetime.now(UTC)
    titles = ["Spring sale", "New arrivals", "Last chance"]
    messages = [await send(api, token, "promos", customer, title=t, body=f"{t}!") for t in titles]
    expected = next_local_hour(worker.tiers.for_tier(Tier.ORDINARY).digest_hour, ZONE, before)
    for message in messages:
        [row] = await rows(message)
        assert (row.status, row.reason) == (DeliveryStatus.DEFERRED, "DIGEST")
        assert row.not_before == expected

    # Before the digest hour nothing leaves.
    assert await worker.run_once(now=expected - timedelta(minutes=1)) == 0
    assert smtp.received == []

    assert await worker.run_once(now=expected + timedelta(seconds=1)) == len(titles)
    [mail] = smtp.received
    assert mail.rcpt_tos == ["ann@example.com"]
    assert mail.message["Subject"] == f"{len(titles)} updates"
    text = mail.message.get_body(("plain",)).get_content()
    for title in titles:
        assert title in text and f"{title}!" in text
    for message in messages:
        [row] = await rows(message)
        assert (row.status, row.provider) == (DeliveryStatus.SENT, "smtp")
    # Nothing is sent twice on a later run.
    assert await worker.run_once(now=expected + timedelta(hours=1)) == 0
    assert len(smtp.received) == 1


async def test_digest_goes_to_each_customer_separately(mail_api, smtp):
    api = mail_api
    token, ann = await setup(api)
    bob = (await create_customer(api, token, externalId="bob", email="bob@example.com"))["id"]
    await grant(api, token, bob, "promos")
    await send(api, token, "promos", ann, title="For Ann")
    await send(api, token, "promos", bob, title="For Bob one")
    await send(api, token, "promos", bob, title="For Bob two")
    later = datetime.now(UTC) + timedelta(days=1, hours=1)  # past every zone's next 09:00
    await api.runtime.worker.run_once(now=later)
    by_rcpt = {
        tuple(m.rcpt_tos): m.message.get_body(("plain",)).get_content() for m in smtp.received
    }
    assert len(smtp.received) == 2
    assert "For Ann" in by_rcpt[("ann@example.com",)]
    assert "For Bob" not in by_rcpt[("ann@example.com",)]
    assert "For Bob one" in by_rcpt[("bob@example.com",)]
    assert "For Bob two" in by_rcpt[("bob@example.com",)]


async def test_withdrawal_before_the_digest_suppresses_instead(mail_api, smtp):
    api = mail_api
    token, customer = await setup(api)
    message = await send(api, token, "promos", customer)
    [row] = await rows(message)
    assert row.reason == "DIGEST"
    await withdraw(api, token, customer, "promos")
    await api.runtime.worker.run_once(now=row.not_before + timedelta(seconds=1))
    [row] = await rows(message)
    assert (row.status, row.reason) == (DeliveryStatus.SUPPRESSED, "NO_PERMISSION")
    assert smtp.received == []


async def test_quiet_hours_defer_to_the_window_end_then_send(mail_api, smtp):
    api = mail_api
    token, customer = await setup(api, tier="HIGH_VALUE")
    now = datetime.now(UTC)
    quiet = window_around(now, ZONE)
    await set_preference(api, token, customer, "promos", ["email"], quiet=quiet)
    message = await send(api, token, "promos", customer, title="Psst")
    [row] = await rows(message)
    assert (row.status, row.reason) == (DeliveryStatus.DEFERRED, "QUIET_HOURS")
    local_end = row.not_before.astimezone(ZoneInfo(ZONE))
    assert local_end.strftime("%H:%M") == quiet[1]
    assert timedelta(hours=1) < row.not_before - now <= timedelta(hours=2)

    worker = api.runtime.worker
    assert await worker.run_once(now=row.not_before - timedelta(minutes=1)) == 0
    assert smtp.received == []
    assert await worker.run_once(now=row.not_before + timedelta(seconds=1)) == 1
    [row] = await rows(message)
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 1)
    [mail] = smtp.received
    assert mail.message["Subject"] == "Psst"


async def test_required_category_passes_quiet_hours_and_caps_but_not_missing_permission(
    mail_api, smtp
):
    api = mail_api
    token, customer = await setup(api, tier="POTENTIAL")
    policy = api.runtime.worker.tiers.for_tier(Tier.POTENTIAL)
    await create_category(
        api, token, "security", "MARKETING", defaultChannels=["email"], required=True
    )
    # The customer is inside quiet hours for the required category...
    quiet = window_around(datetime.now(UTC), ZONE)
    await set_preference(api, token, customer, "security", ["email"], quiet=quiet)
    # ...and has had the day's whole overall cap of ordinary marketing.
    keys = [f"offers{n}" for n in range(policy.daily_cap)]
    for key in keys:
        await create_category(api, token, key, "MARKETING", defaultChannels=["email"])
        await grant(api, token, customer, key)
        [row] = await rows(await send(api, token, key, customer))
        assert row.status is DeliveryStatus.QUEUED
    [row] = await rows(await send(api, token, "promos", customer))
    assert (row.status, row.reason) == (DeliveryStatus.SUPPRESSED, "FREQUENCY_CAP")

    # Missing permission stops a required MARKETING category: nothing overrides rule 1.
    [row] = await rows(await send(api, token, "security", customer, title="New sign-in"))
    assert (row.status, row.reason) == (DeliveryStatus.SUPPRESSED, "NO_PERMISSION")

    # With permission it passes both caps (more than the category cap, past the overall
    # one) and the quiet hours, and goes now.
    await grant(api, token, customer, "security")
    for n in range(policy.category_daily_cap + 1):
        [row] = await rows(await send(api, token, "security", customer, title=f"Sign-in {n}"))
        assert (row.status, row.reason) == (DeliveryStatus.QUEUED, None)
        verdicts = {r["rule"]: r["verdict"] for r in row.rules}
        assert verdicts == {
            "NO_PERMISSION": "pass",
            "OPTED_OUT": "skip",
            "NO_ADDRESS": "pass",
            "FREQUENCY_CAP": "skip",
            "QUIET_HOURS": "skip",
            "DIGEST": "skip",
        }
    before = len(smtp.received)
    await api.runtime.worker.run_once()
    subjects = sorted(m.message["Subject"] for m in smtp.received[before:])
    assert [s for s in subjects if s.startswith("Sign-in")] == [
        f"Sign-in {n}" for n in range(policy.category_daily_cap + 1)
    ]


async def test_the_send_after_the_category_cap_is_suppressed(mail_api, smtp):
    api = mail_api
    token, customer = await setup(api, tier="HIGH_VALUE")
    cap = api.runtime.worker.tiers.for_tier(Tier.HIGH_VALUE).category_daily_cap
    for n in range(cap):
        [row] = await rows(await send(api, token, "promos", customer, title=f"Offer {n}"))
        assert row.status is DeliveryStatus.QUEUED
    await api.runtime.worker.run_once()
    assert len(smtp.received) == cap  # sent ones count as much as queued ones

    [row] = await rows(await send(api, token, "promos", customer, title="One too many"))
    assert (row.status, row.reason) == (DeliveryStatus.SUPPRESSED, "FREQUENCY_CAP")
    await api.runtime.worker.run_once()
    assert len(smtp.received) == cap
