"""`scheduleAt` errors name `scheduleAt`, the field the caller gave."""

from __future__ import annotations

from tests.delivery.support import create_category, create_customer, send_payload
from tidings.core.enums import Role
from tidings.core.models.messages import Message


async def test_a_schedule_before_the_supported_range_is_refused_on_schedule_at(api):
    _, token = await api.staff(Role.ADMIN)
    await create_category(api, token, "orders", "TRANSACTIONAL", defaultChannels=["in_app"])
    customer = await create_customer(api, token)
    # Year 1 at +14:00 lies before year 1 in UTC: the earliest past there is.
    payload = await send_payload(
        api,
        token,
        "orders",
        {"customerId": customer["id"]},
        content={"title": "t", "body": "b"},
        scheduleAt="0001-01-01T00:00:00+14:00",
    )
    assert payload["message"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID_DATETIME", "scheduleAt")
    ]
    assert await Message.all().count() == 0
