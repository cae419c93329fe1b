"""Feedback moves statuses forward only (SENT < DELIVERED < BOUNCED < COMPLAINED); a complaint
withdraws the customer's marketing grants on the channel, once; `Delivery.events` lists every
feedback in order, ADMIN alone reading its detail, in one statement for a page of deliveries;
bounced deliveries still count toward caps."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import Api, data, make_settings
from tests.delivery.support import (
    EXPLAIN,
    create_category,
    create_customer,
    grant,
    raw_id,
    rows,
    send,
)
from tests.delivery.test_feedback import ChatPlugin, post, rows_of
from tests.sql_statements import statement_log
from tidings.api.app import create_app
from tidings.core.delivery.feedback import STATUS_RANK, next_status
from tidings.core.enums import DeliveryStatus, GrantStatus, Role
from tidings.core.models import Delivery, PermissionEntry, PermissionState
from tidings.plugins import FeedbackKind
from tidings.plugins.manager import plugin_manager
from tidings.providers import BUILTIN_PROVIDER_MODULES
from tidings.schema.ids import to_global_id

S = DeliveryStatus
K = FeedbackKind
T0 = datetime(2026, 11, 30, 9, tzinfo=UTC)

# Every status a delivery may stand at, and where each kind of feedback takes it (None: stays).
MOVES: dict[tuple[DeliveryStatus, FeedbackKind], DeliveryStatus | None] = {
    (S.SENT, K.DELIVERED): S.DELIVERED,
    (S.SENT, K.BOUNCED): S.BOUNCED,
    (S.SENT, K.COMPLAINED): S.COMPLAINED,
    (S.DELIVERED, K.DELIVERED): None,
    (S.DELIVERED, K.BOUNCED): S.BOUNCED,
    (S.DELIVERED, K.COMPLAINED): S.COMPLAINED,
    (S.BOUNCED, K.DELIVERED): None,  # a late receipt never undoes a bounce
    (S.BOUNCED, K.BOUNCED): None,
    (S.BOUNCED, K.COMPLAINED): S.COMPLAINED,
    (S.COMPLAINED, K.DELIVERED): None,
    (S.COMPLAINED, K.BOUNCED): None,
    (S.COMPLAINED, K.COMPLAINED): None,
    **{
        (status, kind): None
        for status in (S.QUEUED, S.DEFERRED, S.SUPPRESSED, S.FAILED, S.CANCELLED)
        for kind in (K.DELIVERED, K.BOUNCED, K.COMPLAINED)
    },
    **{(status, kind): None for status in S for kind in (K.OPENED, K.CLICKED, K.REPLIED)},
}


def test_every_status_and_kind_is_in_the_table():
    assert set(MOVES) == {(status, kind) for status in S for kind in K}
    assert list(STATUS_RANK) == [S.SENT, S.DELIVERED, S.BOUNCED, S.COMPLAINED]


@pytest.mark.parametrize(("status", "kind"), list(MOVES), ids=lambda v: v.value)
def test_next_status(status: DeliveryStatus, kind: FeedbackKind):
    assert next_status(status, kind) is MOVES[(status, kind)]


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


@pytest.fixture
async def chat(db: str) -> AsyncIterator[Api]:
    """The app with the vendor's chat providers; a HIGH_VALUE customer may get one marketing
    message per category a day."""
    manager = plugin_manager(builtins=[*BUILTIN_PROVIDER_MODULES, ChatPlugin()], entry_points=False)
    settings = make_settings(
        db,
        TIDINGS_IN_PROCESS_WORKER="false",
        TIDINGS_TIER_POLICY=json.dumps({"HIGH_VALUE": {"category_daily_cap": 1}}),
    )
    app = create_app(settings, manager=manager, manage_database=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield Api(client=c, app=app)
    app.state.runtime.templates.close()


async def marketing_world(api: Api) -> tuple[str, dict, list[Delivery]]:
    """An admin token; a customer granted two marketing categories on chat (one sent), a
    marketing category by email and a transactional category on chat; the SENT delivery."""
    _, token = await api.staff(Role.ADMIN)
    await create_category(api, token, "deals", "MARKETING", defaultChannels=["chat"])
    await create_category(api, token, "news", "MARKETING", defaultChannels=["chat"])
    await create_category(api, token, "parcels", "TRANSACTIONAL", defaultChannels=["chat"])
    customer = await create_customer(
        api, token, tier="HIGH_VALUE", email="ann@example.com", attributes={"chat": "ann"}
    )
    for category, channel in [
        ("deals", "chat"),
        ("news", "chat"),
        ("deals", "email"),
        ("parcels", "chat"),
    ]:
        await grant(api, token, customer["id"], category, channel)
    message = await send(api, token, "deals", customer["id"], channels=["chat"])
    assert await api.runtime.worker.run_once() == 1
    found = await rows(message)
    assert [r.status for r in found] == [S.SENT]
    return token, customer, found


async def status_of(row: Delivery) -> DeliveryStatus:
    [after] = await rows_of(row)
    return after.status


async def test_feedback_moves_forward_and_never_back(chat):
    _, _, [row] = await marketing_world(chat)
    steps = [
        ({"kind": "BOUNCED", "detail": "mailbox full"}, S.BOUNCED),
        ({"kind": "DELIVERED"}, S.BOUNCED),  # late: kept, moves nothing
        ({"kind": "COMPLAINED"}, S.COMPLAINED),
        ({"kind": "BOUNCED", "detail": "again"}, S.COMPLAINED),
        ({"kind": "DELIVERED", "detail": "very late"}, S.COMPLAINED),
    ]
    for minute, (item, expected) in enumerate(steps):
        response = await post(chat, [{**item, "id": row.provider_id, "at": at(minute)}])
        assert response.json()["recorded"] == 1
        assert await status_of(row) is expected, item
    [after] = await rows_of(row)
    assert after.delivered_at == T0 + timedelta(minutes=1)  # what the vendor said is kept


@pytest.mark.parametrize("status", [S.QUEUED, S.DEFERRED, S.SUPPRESSED, S.FAILED])
async def test_bounces_and_complaints_move_no_unsent_row(chat, status):
    _, _, [row] = await marketing_world(chat)
    await Delivery.filter(id=row.id).update(status=status)
    items = [{"kind": kind, "id": row.provider_id} for kind in ("BOUNCED", "COMPLAINED")]
    assert (await post(chat, items)).json()["recorded"] == 2
    assert await status_of(row) is status


async def grant_states(customer: dict) -> dict[tuple[str, str], GrantStatus]:
    states = await PermissionState.filter(customer_id=raw_id(customer["id"]))
    return {(s.category, s.channel): s.status for s in states}


async def test_a_complaint_withdraws_marketing_on_that_channel_once(chat):
    _, customer, [row] = await marketing_world(chat)
    complaint = [{"kind": "COMPLAINED", "id": row.provider_id, "at": at(5)}]
    assert (await post(chat, complaint)).json()["recorded"] == 1

    assert await grant_states(customer) == {
        ("deals", "chat"): GrantStatus.WITHDRAWN,
        ("news", "chat"): GrantStatus.WITHDRAWN,  # every marketing category on the channel
        ("deals", "email"): GrantStatus.GRANTED,  # another channel
        ("parcels", "chat"): GrantStatus.GRANTED,  # transactional
    }
    entries = await PermissionEntry.filter(source="complaint").order_by("category")
    assert [(e.category, e.channel, e.status) for e in entries] == [
        ("deals", "chat", GrantStatus.WITHDRAWN),
        ("news", "chat", GrantStatus.WITHDRAWN),
    ]
    for entry in entries:
        assert entry.recorded_by == "system:complaint"
        assert entry.evidence == {"deliveryId": str(row.id), "at": at(5), "provider": "acme-chat"}
        assert entry.granted_at is not None and entry.withdrawn_at is not None

    # A replay records nothing; a second complaint withdraws nothing more.
    assert (await post(chat, complaint)).json()["duplicates"] == 1
    again = [{"kind": "COMPLAINED", "id": row.provider_id, "at": at(9)}]
    assert (await post(chat, again)).json()["recorded"] == 1
    assert await PermissionEntry.filter(source="complaint").count() == 2


async def test_explain_delivery_says_a_complaint_withdrew_the_permission(chat):
    """After a complaint, `explainDelivery` names it: the customer did not just opt out."""
    token, customer, [row] = await marketing_world(chat)
    await post(chat, [{"kind": "COMPLAINED", "id": row.provider_id, "at": at(5)}])
    variables = {"c": customer["id"], "cat": "news", "ch": "chat"}
    got = data(await chat.gql(EXPLAIN, variables, token))["explainDelivery"]
    assert (got["status"], got["reason"]) == ("SUPPRESSED", "NO_PERMISSION")
    assert got["rules"][0]["detail"] == "permission WITHDRAWN (complaint)"
    # Granted again, the source no longer explains anything: the grant passes.
    await grant(chat, token, customer["id"], "news", "chat")
    got = data(await chat.gql(EXPLAIN, variables, token))["explainDelivery"]
    assert got["status"] == "QUEUED"


async def test_a_bounce_withdraws_nothing(chat):
    _, customer, [row] = await marketing_world(chat)
    item = {"kind": "BOUNCED", "id": row.provider_id}
    assert (await post(chat, [item])).json()["recorded"] == 1
    assert set((await grant_states(customer)).values()) == {GrantStatus.GRANTED}


EVENTS = """query($id: ID!) { message(id: $id) { deliveries { nodes {
  status events { id kind at permanent detail } } } } }"""


async def test_events_are_listed_in_order_and_their_detail_is_for_admins(chat):
    token, _, [row] = await marketing_world(chat)
    # Posted out of order: listed in the order they happened.
    items = [
        {"kind": "COMPLAINED", "id": row.provider_id, "at": at(30)},
        {"kind": "BOUNCED", "id": row.provider_id, "at": at(10), "detail": "550 ann@ gone"},
        {"kind": "DELIVERED", "id": row.provider_id, "at": at(0)},
    ]
    assert (await post(chat, items)).json()["recorded"] == 3
    message_id = (await Delivery.get(id=row.id).values("message_id"))["message_id"]
    variables = {"id": to_global_id("Message", message_id)}
    [node] = data(await chat.gql(EVENTS, variables, token))["message"]["deliveries"]["nodes"]
    assert node["status"] == "COMPLAINED"
    events = node["events"]
    assert [(e["kind"], datetime.fromisoformat(e["at"])) for e in events] == [
        ("DELIVERED", T0),
        ("BOUNCED", T0 + timedelta(minutes=10)),
        ("COMPLAINED", T0 + timedelta(minutes=30)),
    ]
    assert [e["detail"] for e in events] == [None, "550 ann@ gone", None]
    assert len({e["id"] for e in events}) == 3

    _, marketer = await chat.staff(Role.MARKETER)
    result = await chat.gql(EVENTS, variables, marketer)
    [seen] = result["data"]["message"]["deliveries"]["nodes"]
    assert [e["kind"] for e in seen["events"]] == ["DELIVERED", "BOUNCED", "COMPLAINED"]
    assert [e["detail"] for e in seen["events"]] == [None, None, None]
    assert "550" not in json.dumps(result)
    assert {e["extensions"]["code"] for e in result["errors"]} == {"FORBIDDEN"}
    assert [e["path"][-1] for e in result["errors"]] == ["detail"] * 3


MESSAGE_EVENTS = """query($id: ID!) { message(id: $id) { deliveries { nodes {
  events { kind at } } } } }"""


async def test_events_cost_one_statement_for_a_page_of_deliveries(chat):
    _, token = await chat.staff(Role.ADMIN)
    await create_category(chat, token, "parcels", "TRANSACTIONAL", defaultChannels=["chat"])
    counts = []
    for size in (1, 5):
        customers = [
            (await create_customer(chat, token, attributes={"chat": f"c{i}"}))["id"]
            for i in range(size)
        ]
        message = await send(chat, token, "parcels", {"customerIds": customers})
        assert await chat.runtime.worker.run_once() == size
        found = await rows(message)
        items = [
            {"kind": kind, "id": r.provider_id, "at": at(minute)}
            for r in found
            for minute, kind in enumerate(("DELIVERED", "OPENED"))
        ]
        assert (await post(chat, items)).json()["recorded"] == 2 * size
        with statement_log() as log:
            result = data(await chat.gql(MESSAGE_EVENTS, {"id": message["id"]}, token))
        nodes = result["message"]["deliveries"]["nodes"]
        assert [[e["kind"] for e in n["events"]] for n in nodes] == [["DELIVERED", "OPENED"]] * size
        counts.append((len(log.statements), log.tables().count("delivery_events")))
    assert counts[0] == counts[1]
    assert counts[0][1] == 1


async def test_bounced_and_complained_deliveries_count_toward_caps(chat):
    """The customer may get one `deals` message a day: the first went, then bounced (or drew
    a complaint, on another customer): the next is still capped."""
    token, customer, [row] = await marketing_world(chat)
    await post(chat, [{"kind": "BOUNCED", "id": row.provider_id}])
    assert await status_of(row) is S.BOUNCED
    variables = {"c": customer["id"], "cat": "deals", "ch": "chat"}
    got = data(await chat.gql(EXPLAIN, variables, token))["explainDelivery"]
    assert (got["status"], got["reason"]) == ("SUPPRESSED", "FREQUENCY_CAP")

    await Delivery.filter(id=row.id).update(status=S.COMPLAINED)
    got = data(await chat.gql(EXPLAIN, variables, token))["explainDelivery"]
    assert (got["status"], got["reason"]) == ("SUPPRESSED", "FREQUENCY_CAP")

    await Delivery.filter(id=row.id).update(status=S.FAILED)  # reached no one: not counted
    got = data(await chat.gql(EXPLAIN, variables, token))["explainDelivery"]
    assert got["status"] == "QUEUED"
