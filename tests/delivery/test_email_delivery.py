"""Email end to end against a real local SMTP server: consent, retries, fallback, recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiosmtpd.controller import Controller

from tests.conftest import data
from tests.delivery.conftest import deliveries, grant, marketing_customer, send
from tidings.core.models.messages import Delivery, Notification


async def test_granted_mail_arrives_and_withdrawn_is_suppressed_with_nothing_sent(mail_api, smtp):
    api = mail_api
    token, customer = await marketing_customer(api)
    await grant(api, token, customer)

    first = await send(api, token, customer, "sale-1")
    assert await api.runtime.worker.run_once() == 1
    [row] = await deliveries(api, token, first)
    assert (row["channel"], row["status"], row["provider"]) == ("email", "SENT", "smtp")
    [mail] = smtp.received
    assert mail.rcpt_tos == ["ann@example.com"]
    assert mail.message["Subject"] == "Spring sale"
    assert mail.message["To"] == "ann@example.com"
    text = mail.message.get_body(("plain",)).get_content()
    assert (
        text.replace("\r\n", "\n").partition("\n\n--\n")[0] == "20% off, today only."
    )  # then the links footer

    withdrawn = data(
        await api.gql(
            "mutation($i: WithdrawPermissionInput!) { withdrawPermission(input: $i) { grant { status } errors { code } } }",
            {
                "i": {
                    "customerId": customer,
                    "channel": "email",
                    "category": "promos",
                    "source": "preference_center",
                }
            },
            token,
        )
    )
    assert withdrawn["withdrawPermission"]["grant"]["status"] == "WITHDRAWN"
    second = await send(api, token, customer, "sale-2")
    [row] = await deliveries(api, token, second)
    assert (row["status"], row["reason"]) == ("SUPPRESSED", "NO_PERMISSION")
    assert await api.runtime.worker.run_once() == 0
    assert len(smtp.received) == 1


async def test_withdrawal_after_queueing_stops_the_send(mail_api, smtp):
    api = mail_api
    token, customer = await marketing_customer(api)
    await grant(api, token, customer)
    message = await send(api, token, customer, "sale")
    await api.gql(
        "mutation($i: WithdrawPermissionInput!) { withdrawPermission(input: $i) { errors { code } } }",
        {"i": {"customerId": customer, "channel": "email", "category": "promos", "source": "api"}},
        token,
    )
    await api.runtime.worker.run_once()
    [row] = await deliveries(api, token, message)
    assert (row["status"], row["reason"]) == ("SUPPRESSED", "NO_PERMISSION")
    assert smtp.received == []


async def test_temporary_refusal_is_retried_later_then_delivered_once(mail_api, smtp):
    api = mail_api
    token, customer = await marketing_customer(api)
    await grant(api, token, customer)
    smtp.data_reply = "451 4.3.0 Try again later"
    message = await send(api, token, customer, "sale")
    # The first backoff is jittered in [0, 5 s), so it can be a few milliseconds: the retry is
    # compared with the moment the refusal was met, not with a later, load-dependent now.
    refused_at = datetime.now(UTC)
    await api.runtime.worker.run_once(now=refused_at)
    [row] = await deliveries(api, token, message)
    assert (row["status"], row["attempts"]) == ("QUEUED", 1)
    retry_at = datetime.fromisoformat(row["notBefore"])
    assert retry_at >= refused_at
    assert await api.runtime.worker.run_once(now=retry_at - timedelta(microseconds=1)) == 0

    smtp.data_reply = None
    assert await api.runtime.worker.run_once(now=retry_at + timedelta(seconds=1)) == 1
    [row] = await deliveries(api, token, message)
    assert (row["status"], row["attempts"]) == ("SENT", 2)
    assert len(smtp.received) == 1


async def test_server_down_then_back_delivers_once(mail_api, smtp):
    api = mail_api
    token, customer = await marketing_customer(api)
    await grant(api, token, customer)
    port = smtp.controller.port
    smtp.controller.stop()
    message = await send(api, token, customer, "sale")
    await api.runtime.worker.run_once()
    [row] = await deliveries(api, token, message)
    assert row["status"] == "QUEUED"
    smtp.controller = Controller(smtp, hostname="127.0.0.1", port=port)
    smtp.controller.start()
    later = datetime.fromisoformat(row["notBefore"]) + timedelta(seconds=1)
    await api.runtime.worker.run_once(now=later)
    assert await api.runtime.worker.run_once(now=later + timedelta(hours=2)) == 0
    [row] = await deliveries(api, token, message)
    assert row["status"] == "SENT"
    assert len(smtp.received) == 1


async def test_unknown_recipient_fails_and_the_fallback_channel_is_taken(mail_api, smtp):
    api = mail_api
    token, customer = await marketing_customer(api, fallback="in_app")
    await grant(api, token, customer, "email")
    await grant(api, token, customer, "in_app")
    smtp.rcpt_replies["ann@example.com"] = "550 5.1.1 No such user"
    message = await send(api, token, customer, "sale")
    await api.runtime.worker.run_once()
    await api.runtime.worker.run_once()
    rows = {row["channel"]: row for row in await deliveries(api, token, message)}
    assert (rows["email"]["status"], rows["email"]["reason"]) == ("FAILED", "INVALID_ADDRESS")
    assert rows["in_app"]["status"] == "DELIVERED"
    assert await Notification.filter(title="Spring sale").count() == 1


async def test_retries_exhausted_then_an_admin_retries(mail_api, smtp):
    """A message-level transient failure (greylisting) is retried until the delivery is older
    than TIDINGS_DELIVERY_RETRY_FOR (24 h), however few tries that took."""
    api = mail_api
    token, customer = await marketing_customer(api)
    await grant(api, token, customer)
    smtp.data_reply = "451 4.7.1 Greylisted"
    message = await send(api, token, customer, "sale")
    worker = api.runtime.worker
    assert worker.options.retry.retry_for == timedelta(hours=24)
    now = datetime.now(UTC)
    await worker.run_once(now=now)
    [row] = await deliveries(api, token, message)
    assert (row["status"], row["attempts"]) == ("QUEUED", 1)
    created = (await Delivery.get()).created_at
    assert datetime.fromisoformat(row["notBefore"]) <= created + timedelta(hours=24)
    await worker.run_once(now=now + timedelta(hours=23))  # within budget: tried again
    [row] = await deliveries(api, token, message)
    assert (row["status"], row["attempts"]) == ("QUEUED", 2)
    await worker.run_once(now=created + timedelta(hours=24, seconds=1))
    [row] = await deliveries(api, token, message)
    assert (row["status"], row["reason"]) == ("FAILED", "RETRIES_EXHAUSTED")
    assert row["attempts"] == 3
    failed = data(
        await api.gql("{ failedDeliveries { edges { node { id lastError } } } }", token=token)
    )
    [listed] = failed["failedDeliveries"]["edges"]
    assert "451" in listed["node"]["lastError"]

    smtp.data_reply = None
    retried = data(
        await api.gql(
            "mutation($id: ID!) { retryDelivery(id: $id) { delivery { status attempts } errors { code } } }",
            {"id": row["id"]},
            token,
        )
    )["retryDelivery"]
    assert retried["delivery"] == {"status": "QUEUED", "attempts": 0}
    await worker.run_once()
    assert (await Delivery.get()).status.value == "SENT"
    assert len(smtp.received) == 1
