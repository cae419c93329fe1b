"""Outbound webhooks against a real endpoint on 127.0.0.1: signed, with a stable event id,
delivered at least once through the outbox (an endpoint taken down and brought back gets
everything, once, after backoff), stopped by deleteWebhook, never told an address."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from tests.conftest import Api, data
from tests.core.support import create_category, create_customer, raw_id
from tests.delivery.support import grant
from tests.sql_statements import statement_log
from tests.webhooks.conftest import DELIVERIES, attempts, create_webhook
from tests.webhooks.receiver import Receiver
from tidings.core.enums import Role, WebhookEventType
from tidings.core.models import WebhookDelivery
from tidings.core.webhooks.dispatcher import DispatcherOptions, WebhookDispatcher, claim_due
from tidings.core.webhooks.outbox import enqueue

DELETE = "mutation($id: ID!) { deleteWebhook(id: $id) { webhook { id } errors { code } } }"
LIST = "{ webhooks { id url events } }"


async def consent_hook(api: Api, receiver: Receiver) -> tuple[str, dict, str]:
    """An admin token, a CONSENT webhook on the receiver, and a customer (global id)."""
    _, token = await api.staff(Role.ADMIN)
    created = await create_webhook(api, token, receiver.url, ["CONSENT"])
    assert created["errors"] == [] and created["secret"].startswith("whsec_")
    await create_category(api, token, "news")
    customer = await create_customer(
        api, token, email="ann.hidden@example.org", phone="+14155550123"
    )
    return token, created, customer["id"]


async def test_an_event_arrives_signed_with_a_stable_id_and_no_address(hook_api, receiver):
    api = hook_api
    token, created, customer = await consent_hook(api, receiver)
    await grant(api, token, customer, "news")
    assert await api.runtime.webhooks.run_once() == 1

    [request] = receiver.received
    assert request.path == "/hooks/tidings"
    assert request.verified(created["secret"])
    assert not request.verified(created["secret"] + "x")
    body = request.json
    assert request.headers["x-tidings-event-id"] == body["id"]
    assert request.headers["content-type"] == "application/json"
    assert body["type"] == "CONSENT"
    assert body["data"]["customerId"] == str(raw_id(customer))
    assert (body["data"]["channel"], body["data"]["category"]) == ("email", "news")
    assert body["data"]["status"] == "GRANTED" and body["data"]["source"] == "api"
    assert b"ann.hidden" not in request.body and b"4155550123" not in request.body

    [row] = await attempts(api, token, created["webhook"]["id"])
    assert row["status"] == "DELIVERED" and row["attempts"] == 1
    assert row["eventId"] == body["id"] and row["lastStatusCode"] == 200
    assert row["nextAttemptAt"] is None and row["deliveredAt"] is not None
    # Delivered is done: nothing is sent again.
    assert await api.runtime.webhooks.run_once() == 0
    assert len(receiver.received) == 1


async def test_a_dead_endpoint_gets_everything_once_it_is_back(hook_api, receiver):
    api = hook_api
    token, created, customer = await consent_hook(api, receiver)
    hook_id = created["webhook"]["id"]
    receiver.stop()
    for channel in ("email", "sms", "push"):
        await grant(api, token, customer, "news", channel)
    dispatcher = api.runtime.webhooks
    start = datetime.now(UTC) + timedelta(seconds=1)

    # Down: every event fails, and waits 10 s for its next attempt.
    assert await dispatcher.run_once(start) == 3
    rows = await attempts(api, token, hook_id)
    assert {r["status"] for r in rows} == {"PENDING"}
    assert {r["attempts"] for r in rows} == {1}
    assert {r["lastError"] for r in rows} == {"connection failed (ConnectError)"}
    assert {datetime.fromisoformat(r["nextAttemptAt"]) for r in rows} == {
        start + timedelta(seconds=10)
    }
    assert await dispatcher.run_once(start + timedelta(seconds=9)) == 0  # not due yet

    # Back, but failing: the backoff doubles.
    receiver.status = 503
    receiver.start()
    second = start + timedelta(seconds=10)
    assert await dispatcher.run_once(second) == 3
    rows = await attempts(api, token, hook_id)
    assert {(r["attempts"], r["lastStatusCode"], r["lastError"]) for r in rows} == {
        (2, 503, "HTTP 503")
    }
    assert {datetime.fromisoformat(r["nextAttemptAt"]) for r in rows} == {
        second + timedelta(seconds=20)
    }
    failed_ids = [r.json["id"] for r in receiver.received]
    receiver.received.clear()

    # Healthy: each event is delivered once, with the id it had all along.
    receiver.status = 204
    assert await dispatcher.run_once(second + timedelta(seconds=20)) == 3
    assert sorted(r.json["id"] for r in receiver.received) == sorted(failed_ids)
    assert len({r.json["id"] for r in receiver.received}) == 3
    assert all(r.verified(created["secret"]) for r in receiver.received)
    rows = await attempts(api, token, hook_id)
    assert {(r["status"], r["attempts"], r["lastError"]) for r in rows} == {("DELIVERED", 3, None)}
    assert await dispatcher.run_once(second + timedelta(hours=1)) == 0


async def test_backoff_is_capped_and_the_retries_end(db):
    options = DispatcherOptions()
    assert [options.backoff(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert options.backoff(12) == timedelta(hours=1)
    assert options.backoff(400) == timedelta(hours=1)


async def test_the_last_attempt_fails_for_good(hook_api, receiver):
    api = hook_api
    token, created, customer = await consent_hook(api, receiver)
    receiver.status = 500
    await grant(api, token, customer, "news")
    dispatcher = WebhookDispatcher(DispatcherOptions(max_attempts=2, allow_private=True))
    try:
        now = datetime.now(UTC) + timedelta(seconds=1)
        assert await dispatcher.run_once(now) == 1
        assert await dispatcher.run_once(now + timedelta(seconds=10)) == 1
        assert await dispatcher.run_once(now + timedelta(days=1)) == 0
    finally:
        await dispatcher.aclose()
    [row] = await attempts(api, token, created["webhook"]["id"])
    assert (row["status"], row["attempts"], row["nextAttemptAt"]) == ("FAILED", 2, None)


async def test_a_hanging_endpoint_times_out_and_a_redirect_is_not_followed(hook_api, receiver):
    api = hook_api
    token, created, customer = await consent_hook(api, receiver)
    await grant(api, token, customer, "news")
    receiver.hang = True
    dispatcher = WebhookDispatcher(DispatcherOptions(timeout=0.2, allow_private=True))
    try:
        now = datetime.now(UTC) + timedelta(seconds=1)
        assert await dispatcher.run_once(now) == 1
        [row] = await attempts(api, token, created["webhook"]["id"])
        assert row["lastError"] == "no answer within 0.2 s" and row["status"] == "PENDING"
        receiver.stop()
        receiver.hang = False
        receiver.status = 302
        receiver.start()
        assert await dispatcher.run_once(now + timedelta(seconds=10)) == 1
    finally:
        await dispatcher.aclose()
    [row] = await attempts(api, token, created["webhook"]["id"])
    assert (row["status"], row["lastStatusCode"]) == ("PENDING", 302)


async def test_delete_webhook_stops_it(hook_api, receiver):
    api = hook_api
    token, created, customer = await consent_hook(api, receiver)
    hook_id = created["webhook"]["id"]
    await grant(api, token, customer, "news")
    assert [h["id"] for h in data(await api.gql(LIST, None, token))["webhooks"]] == [hook_id]

    deleted = data(await api.gql(DELETE, {"id": hook_id}, token))["deleteWebhook"]
    assert deleted == {"webhook": {"id": hook_id}, "errors": []}
    await grant(api, token, customer, "news", "sms")  # nobody listens any more
    assert await api.runtime.webhooks.run_once(datetime.now(UTC) + timedelta(hours=1)) == 0
    assert receiver.received == []
    assert data(await api.gql(LIST, None, token))["webhooks"] == []
    [row] = await attempts(api, token, hook_id)  # what it had stays listed
    assert (row["status"], row["attempts"]) == ("CANCELLED", 0)

    again = data(await api.gql(DELETE, {"id": hook_id}, token))["deleteWebhook"]
    assert again == {"webhook": None, "errors": [{"code": "NOT_FOUND"}]}


async def test_a_webhook_deleted_after_the_claim_is_not_sent(hook_api, receiver):
    api = hook_api
    token, created, customer = await consent_hook(api, receiver)
    await grant(api, token, customer, "news")
    now = datetime.now(UTC) + timedelta(seconds=1)
    [claimed] = await claim_due(now, 10, timedelta(minutes=5))
    await api.gql(DELETE, {"id": created["webhook"]["id"]}, token)
    await WebhookDelivery.filter(id=claimed).update(locked_until=None)  # as if it expired
    assert await api.runtime.webhooks.run_once(now) == 0
    assert receiver.received == []


async def test_a_claim_is_leased_so_no_one_else_sends_the_same_attempt(hook_api, receiver):
    api = hook_api
    token, _, customer = await consent_hook(api, receiver)
    await grant(api, token, customer, "news")
    now = datetime.now(UTC) + timedelta(seconds=1)
    lease = timedelta(minutes=2)
    first = await claim_due(now, 10, lease)
    assert len(first) == 1
    assert await claim_due(now, 10, lease) == []  # another dispatcher finds nothing
    assert await claim_due(now + lease - timedelta(seconds=1), 10, lease) == []
    # A dispatcher that died lets its rows go when the lease runs out: at least once.
    assert await claim_due(now + lease + timedelta(seconds=1), 10, lease) == first
    [row] = await WebhookDelivery.filter(id=first[0])
    assert row.attempts == 2


async def test_webhook_deliveries_cost_the_same_statements_for_any_page(hook_api, receiver):
    api = hook_api
    token, created, customer = await consent_hook(api, receiver)
    for n in range(12):
        await create_category(api, token, f"news-{n}")
        await grant(api, token, customer, f"news-{n}")
    hook_id = created["webhook"]["id"]
    counts = []
    for first in (2, 12):
        with statement_log() as log:
            result = data(await api.gql(DELIVERIES, {"id": hook_id, "first": first}, token))
        assert len(result["webhookDeliveries"]["nodes"]) == first
        counts.append(len(log.statements))
    assert counts[0] == counts[1] <= 3
    missing = await api.gql(DELIVERIES, {"id": str(uuid.uuid4())}, token)
    assert missing["data"]["webhookDeliveries"] is None
    assert missing["errors"][0]["extensions"]["reason"] == "NOT_FOUND"


async def test_a_subscription_hears_only_its_event_types(hook_api, receiver):
    api = hook_api
    _, token = await api.staff(Role.ADMIN)
    created = await create_webhook(api, token, receiver.url, ["CONVERSION"])
    customer = await create_customer(api, token)
    await create_category(api, token, "news")
    await grant(api, token, customer["id"], "news")
    assert await WebhookDelivery.all().count() == 0
    assert created["webhook"]["events"] == ["CONVERSION"]


async def test_concurrent_dispatchers_claim_disjoint_rows(hook_api, receiver):
    """On PostgreSQL claims skip locked rows; every row is claimed once, by one claimer."""
    api = hook_api
    _, token = await api.staff(Role.ADMIN)
    await create_webhook(api, token, receiver.url, ["CONVERSION"])
    await enqueue(WebhookEventType.CONVERSION, [{"n": n} for n in range(40)])
    now = datetime.now(UTC) + timedelta(seconds=1)
    claims = await asyncio.gather(*(claim_due(now, 10, timedelta(minutes=1)) for _ in range(6)))
    claimed = [row for claim in claims for row in claim]
    assert len(claimed) == len(set(claimed)) == 40


async def test_live_webhooks_are_capped_and_a_deleted_one_frees_its_place(hook_api, receiver):
    """Each event is written once per webhook: their number is bounded."""
    from tidings.core.models import Webhook
    from tidings.core.services.webhooks import MAX_WEBHOOKS

    api = hook_api
    _, token = await api.staff(Role.ADMIN)
    await Webhook.bulk_create(
        [
            Webhook(url=f"{receiver.url}/{n}", events=",CONSENT,", secret="s", created_by="t")
            for n in range(MAX_WEBHOOKS)
        ]
    )
    refused = await create_webhook(api, token, receiver.url, ["CONSENT"])
    assert refused["webhook"] is None and refused["secret"] is None
    assert [e["code"] for e in refused["errors"]] == ["TOO_MANY"]
    await Webhook.filter(url=f"{receiver.url}/0").update(deleted_at=datetime.now(UTC))
    created = await create_webhook(api, token, receiver.url, ["CONSENT"])
    assert created["errors"] == [] and created["secret"].startswith("whsec_")
