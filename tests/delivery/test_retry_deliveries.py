"""retryDeliveries: staff queue failures again in bulk, by message, reason and channel, each
with a fresh retry budget; a filter is required."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import data
from tests.delivery.support import create_category, create_customer, rows, send
from tidings.core.enums import DeliveryStatus, Role
from tidings.core.models.messages import Delivery
from tidings.schema.ids import to_global_id

RETRY = """
mutation($f: RetryDeliveriesFilter!) { retryDeliveries(filter: $f) {
  count errors { code field } } }
"""


async def retry(api, token: str, **filter: object) -> dict:
    return data(await api.gql(RETRY, {"f": filter}, token))["retryDeliveries"]


async def test_failures_are_queued_again_by_filter_with_a_fresh_budget(mail_api, smtp):
    api = mail_api
    _, token = await api.staff(Role.ADMIN)
    await create_category(api, token, "orders", "TRANSACTIONAL", defaultChannels=["email"])
    ann = await create_customer(api, token, email="ann@example.com")
    bob = await create_customer(api, token, email="bob@example.com")
    smtp.rcpt_replies["ann@example.com"] = "550 5.1.1 No such user"
    smtp.rcpt_replies["bob@example.com"] = "550 5.1.1 No such user"
    first = await send(api, token, "orders", ann["id"])
    second = await send(api, token, "orders", bob["id"])
    assert await api.runtime.worker.run_once() == 2
    for message in (first, second):
        [row] = await rows(message)
        assert (row.status, row.reason) == (DeliveryStatus.FAILED, "INVALID_ADDRESS")

    assert await retry(api, token) == {
        "count": 0,
        "errors": [{"code": "REQUIRED", "field": "filter"}],
    }
    missing = to_global_id("Message", "00000000-0000-0000-0000-000000000001")
    assert (await retry(api, token, messageId=missing))["errors"] == [
        {"code": "NOT_FOUND", "field": "messageId"}
    ]
    assert await retry(api, token, reason="RETRIES_EXHAUSTED") == {"count": 0, "errors": []}
    assert await retry(api, token, channel="sms") == {"count": 0, "errors": []}

    [old] = await rows(first)  # long past its own budget: a retry must start a new one
    await Delivery.filter(id=old.id).update(created_at=datetime.now(UTC) - timedelta(days=3))
    before = datetime.now(UTC)
    assert await retry(api, token, messageId=first["id"], channel="email") == {
        "count": 1,
        "errors": [],
    }
    [again] = await rows(first)
    assert (again.status, again.reason, again.attempts) == (DeliveryStatus.QUEUED, None, 0)
    assert again.retry_from is not None and again.retry_from >= before - timedelta(seconds=1)
    [untouched] = await rows(second)
    assert untouched.status is DeliveryStatus.FAILED

    smtp.rcpt_replies["ann@example.com"] = "451 4.7.1 Greylisted"
    assert await api.runtime.worker.run_once() == 1
    [greylisted] = await rows(first)
    assert (greylisted.status, greylisted.attempts) == (DeliveryStatus.QUEUED, 1)  # not spent

    smtp.rcpt_replies.clear()
    assert await api.runtime.worker.run_once(now=greylisted.not_before) == 1
    [sent] = await rows(first)
    assert sent.status is DeliveryStatus.SENT
    assert await retry(api, token, reason="INVALID_ADDRESS") == {"count": 1, "errors": []}


async def test_only_admin_retries_in_bulk(mail_api):
    api = mail_api
    _, token = await api.staff(Role.MARKETER)
    result = await api.gql(RETRY, {"f": {"channel": "email"}}, token)
    assert result["data"] == {"retryDeliveries": None}
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
