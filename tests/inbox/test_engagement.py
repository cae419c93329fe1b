"""Engagement a customer's app reports: reading an in-app notification counts as opening its
delivery (once, first time kept, a constant number of statements however many are read), and
`recordEngagement` records opens and clicks of the customer's own deliveries only."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx

from tests.conftest import Api, data, make_settings
from tests.core.support import create_category, create_customer, raw_id
from tests.delivery.support import send
from tests.inbox.support import MARK_ALL_READ, MARK_READ, gid
from tests.sql_statements import statement_log
from tidings.api.app import create_app
from tidings.core.enums import DeliveryStatus, Role
from tidings.core.models import Delivery, DeliveryEvent
from tidings.core.models.messages import Notification
from tidings.schema.ids import to_global_id

RECORD = """
mutation($id: ID!, $kind: EngagementKind!) {
  recordEngagement(deliveryId: $id, kind: $kind) { recorded errors { code field } } }
"""


@contextlib.asynccontextmanager
async def app_with(db: str, **settings: str) -> AsyncIterator[Api]:
    app = create_app(make_settings(db, **settings), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client=client, app=app)
    app.state.runtime.templates.close()


async def in_app_messages(api: Api, count: int) -> tuple[uuid.UUID, str, list[Notification]]:
    """A customer, its token, and `count` in-app notifications delivered by the worker."""
    _, admin = await api.staff(Role.ADMIN)
    if not await api.runtime.services.categories.get("orders"):
        await create_category(api, admin, "orders", "TRANSACTIONAL", defaultChannels=["in_app"])
    customer = await create_customer(api, admin)
    for n in range(count):
        await send(api, admin, "orders", customer["id"], idempotencyKey=f"k-{customer['id']}-{n}")
    assert await api.runtime.worker.run_once() == count
    customer_id = raw_id(customer["id"])
    rows = await Notification.filter(customer_id=customer_id).order_by("created_at")
    return customer_id, api.customer_token(customer_id), list(rows)


async def opened(notifications: list[Notification]) -> list[bool]:
    rows = {d.id: d for d in await Delivery.filter(id__in=[n.delivery_id for n in notifications])}
    return [rows[n.delivery_id].opened_at is not None for n in notifications]


async def test_mark_read_opens_the_delivery_once_and_keeps_the_first_time(api):
    _, token, rows = await in_app_messages(api, 2)
    first = data(await api.gql(MARK_READ, {"ids": [gid(rows[0].id)]}, token))["markRead"]
    assert first["errors"] == []
    assert await opened(rows) == [True, False]
    delivery = await Delivery.get(id=rows[0].delivery_id)
    when = delivery.opened_at
    await api.gql(MARK_READ, {"ids": [gid(rows[0].id)]}, token)
    await delivery.refresh_from_db()
    assert delivery.opened_at == when
    events = await DeliveryEvent.filter(delivery_id=delivery.id)
    assert [(e.kind, e.provider) for e in events] == [("OPENED", "inbox")]
    assert delivery.status is DeliveryStatus.DELIVERED  # engagement moves no status


async def test_mark_all_read_opens_every_delivery_in_constant_statements(api):
    counts = []
    for size in (2, 6):
        _, token, rows = await in_app_messages(api, size)
        with statement_log() as log:
            assert data(await api.gql(MARK_ALL_READ, token=token))["markAllRead"]["errors"] == []
        assert await opened(rows) == [True] * size
        counts.append(len(log.statements))
    assert counts[0] == counts[1]


async def test_tracking_off_reading_opens_nothing_and_reports_are_refused(db):
    async with app_with(db, TIDINGS_TRACKING="off") as api:
        _, token, rows = await in_app_messages(api, 1)
        await api.gql(MARK_READ, {"ids": [gid(rows[0].id)]}, token)
        assert await opened(rows) == [False]
        variables = {"id": str(rows[0].delivery_id), "kind": "OPENED"}
        payload = data(await api.gql(RECORD, variables, token))["recordEngagement"]
        assert payload == {"recorded": False, "errors": [{"code": "TRACKING_OFF", "field": "kind"}]}
        assert await DeliveryEvent.all().count() == 0


async def test_an_app_reports_a_click_of_its_own_delivery_once(api):
    _, token, [row] = await in_app_messages(api, 1)
    delivery_id = to_global_id("Delivery", row.delivery_id)
    clicked = data(await api.gql(RECORD, {"id": delivery_id, "kind": "CLICKED"}, token))
    assert clicked["recordEngagement"] == {"recorded": True, "errors": []}
    delivery = await Delivery.get(id=row.delivery_id)
    assert delivery.clicked_at is not None and delivery.opened_at == delivery.clicked_at
    for kind in ("CLICKED", "OPENED"):  # the raw id works too; replays record nothing
        again = await api.gql(RECORD, {"id": str(row.delivery_id), "kind": kind}, token)
        assert data(again)["recordEngagement"] == {"recorded": False, "errors": []}
    events = await DeliveryEvent.filter(delivery_id=row.delivery_id).order_by("kind")
    assert [(e.kind, e.provider) for e in events] == [("CLICKED", "app"), ("OPENED", "app")]


async def test_someone_elses_or_unsent_delivery_is_refused_and_staff_may_not_report(api):
    _, _, [theirs] = await in_app_messages(api, 1)
    mine_id, token, [mine] = await in_app_messages(api, 1)
    cases = {
        str(theirs.delivery_id): "NOT_FOUND",  # exactly as one that does not exist
        str(uuid.uuid4()): "NOT_FOUND",
        "not-an-id": "NOT_FOUND",
        to_global_id("Notification", mine.id): "NOT_FOUND",  # another type's id
    }
    queued = await Delivery.create(
        message_id=(await Delivery.get(id=mine.delivery_id)).message_id,  # type: ignore[attr-defined]
        customer_id=mine_id,
        channel="push",
        status=DeliveryStatus.QUEUED,
    )
    cases[str(queued.id)] = "NOT_SENT"
    for delivery_id, code in cases.items():
        result = data(await api.gql(RECORD, {"id": delivery_id, "kind": "OPENED"}, token))
        assert result["recordEngagement"] == {
            "recorded": False,
            "errors": [{"code": code, "field": "deliveryId"}],
        }, delivery_id
    _, admin = await api.staff(Role.ADMIN)
    refused = await api.gql(RECORD, {"id": str(mine.delivery_id), "kind": "OPENED"}, admin)
    assert refused["data"] == {"recordEngagement": None}
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await DeliveryEvent.all().count() == 0


async def test_a_read_is_saved_when_recording_its_open_fails(api, caplog):
    """The open is recorded after the read commits: when that fails (here its table is
    gone for a moment), the read still stands and the answer is still a success."""
    from tortoise import connections

    _, token, rows = await in_app_messages(api, 1)
    conn = connections.get("default")
    await conn.execute_script('ALTER TABLE "delivery_events" RENAME TO "delivery_events_away"')
    try:
        answer = data(await api.gql(MARK_READ, {"ids": [gid(rows[0].id)]}, token))["markRead"]
    finally:
        await conn.execute_script('ALTER TABLE "delivery_events_away" RENAME TO "delivery_events"')
    assert answer["errors"] == [] and answer["unreadCount"] == 0
    await rows[0].refresh_from_db()
    assert rows[0].read_at is not None
    assert await opened(rows) == [False]
    assert "recording inbox opens failed" in caplog.text
