"""`POST /feedback/<provider>`: a vendor's receipts and engagement reach the provider's
`feedback` method and are recorded, forward only, once; a request the provider cannot
verify records nothing; a provider can never speak for another's deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import Api, data, make_settings
from tests.delivery.support import create_category, create_customer, rows, send
from tidings.api.app import create_app
from tidings.core.delivery.feedback import FeedbackRecorder
from tidings.core.enums import DeliveryStatus, Role
from tidings.core.models import Delivery, DeliveryEvent
from tidings.plugins import (
    Feedback,
    FeedbackKind,
    FeedbackRejected,
    FeedbackRequest,
    OutboundMessage,
    SendResult,
    hookimpl,
)
from tidings.plugins.manager import plugin_manager
from tidings.providers import BUILTIN_PROVIDER_MODULES
from tidings.schema.ids import to_global_id

SECRET = b"chat-webhook-secret"


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()


class ChatProvider:
    """A vendor's provider: its ids are "chat-<our id>", its webhook is signed JSON."""

    name = "acme-chat"
    channel = "chat"
    max_batch = 10

    async def start(self) -> None:
        return None

    async def send(self, batch: Sequence[OutboundMessage]) -> Sequence[SendResult]:
        return [SendResult(ok=True, provider_id=f"chat-{m.delivery_id}") for m in batch]

    async def feedback(self, request: FeedbackRequest) -> list[Feedback]:
        given = request.headers.get("x-chat-signature", "")
        if not hmac.compare_digest(given, sign(request.body)):
            raise FeedbackRejected("bad signature")
        return [
            Feedback(
                kind=FeedbackKind(item["kind"]),
                provider_id=item.get("id"),
                delivery_id=item.get("ours"),
                at=datetime.fromisoformat(item["at"]) if item.get("at") else None,
                detail=item.get("detail"),
            )
            for item in json.loads(request.body)
        ]

    async def aclose(self) -> None:
        return None


class OtherChatProvider(ChatProvider):
    """A second vendor on another channel, with the same webhook format."""

    name = "other-chat"
    channel = "chat2"


class ChatPlugin:
    @hookimpl
    def tidings_providers(self, config: Mapping[str, str]) -> list[ChatProvider]:
        return [ChatProvider(), OtherChatProvider()]


@pytest.fixture
async def chat_api(db: str) -> AsyncIterator[Api]:
    manager = plugin_manager(builtins=[*BUILTIN_PROVIDER_MODULES, ChatPlugin()], entry_points=False)
    app = create_app(
        make_settings(db, TIDINGS_IN_PROCESS_WORKER="false"), manager=manager, manage_database=False
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield Api(client=c, app=app)
    app.state.runtime.templates.close()


async def sent_delivery(api: Api, channel: str = "chat") -> tuple[str, object]:
    """An admin token and one SENT delivery on `channel`."""
    _, token = await api.staff(Role.ADMIN)
    await create_category(
        api, token, f"parcels-{channel}", "TRANSACTIONAL", defaultChannels=[channel]
    )
    customer = await create_customer(api, token, attributes={channel: "ann-handle"})
    message = await send(api, token, f"parcels-{channel}", customer["id"])
    assert await api.runtime.worker.run_once() == 1
    [row] = await rows(message)
    assert row.status is DeliveryStatus.SENT
    return token, row


async def post(api: Api, items: list[dict], *, provider: str = "acme-chat", signed: bool = True):
    body = json.dumps(items).encode()
    headers = {"content-type": "application/json"}
    if signed:
        headers["x-chat-signature"] = sign(body)
    return await api.client.post(f"/feedback/{provider}", content=body, headers=headers)


DELIVERY_TIMES = """query($id: ID!) { node(id: $id) { ... on Delivery {
  status deliveredAt openedAt clickedAt } } }"""


async def test_a_receipt_delivers_once_and_a_replay_changes_nothing(chat_api):
    api = chat_api
    token, row = await sent_delivery(api)
    at = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    receipt = [{"kind": "DELIVERED", "id": row.provider_id, "at": at.isoformat()}]

    first = await post(api, receipt)
    assert (first.status_code, first.json()) == (
        200,
        {"recorded": 1, "duplicates": 0, "unmatched": 0},
    )
    [after] = await rows_of(row)
    assert (after.status, after.delivered_at) == (DeliveryStatus.DELIVERED, at)
    updated = after.updated_at

    again = await post(api, receipt)
    assert again.json() == {"recorded": 0, "duplicates": 1, "unmatched": 0}
    [still] = await rows_of(row)
    assert still.updated_at == updated
    assert await DeliveryEvent.filter(delivery_id=row.id).count() == 1

    seen = data(await api.gql(DELIVERY_TIMES, {"id": to_global_id("Delivery", row.id)}, token))
    assert seen["node"]["status"] == "DELIVERED"
    assert datetime.fromisoformat(seen["node"]["deliveredAt"]) == at
    assert seen["node"]["openedAt"] is None


async def rows_of(row: object) -> list:
    return await Delivery.filter(id=row.id)  # type: ignore[attr-defined]


async def test_engagement_keeps_the_first_time_of_each_kind(chat_api):
    api = chat_api
    _, row = await sent_delivery(api)
    early = datetime(2026, 11, 30, 10, tzinfo=UTC)
    late = early + timedelta(hours=2)
    result = await post(
        api,
        [
            {"kind": "OPENED", "ours": str(row.id), "at": late.isoformat()},
            {"kind": "OPENED", "ours": str(row.id), "at": early.isoformat()},
            {"kind": "CLICKED", "id": row.provider_id, "at": late.isoformat()},
        ],
    )
    assert result.json()["recorded"] == 3
    [after] = await rows_of(row)
    assert (after.opened_at, after.clicked_at) == (early, late)
    assert after.status is DeliveryStatus.SENT  # engagement is no receipt
    kinds = [e.kind for e in await DeliveryEvent.filter(delivery_id=row.id).order_by("at")]
    assert kinds == ["OPENED", "OPENED", "CLICKED"]


async def test_statuses_only_move_forward(chat_api):
    """A receipt for a delivery that failed, or that never went, is kept and moves nothing."""
    api = chat_api
    _, row = await sent_delivery(api)
    await Delivery.filter(id=row.id).update(status=DeliveryStatus.FAILED, reason="REJECTED")
    result = await post(api, [{"kind": "DELIVERED", "id": row.provider_id}])
    assert result.json()["recorded"] == 1
    [after] = await rows_of(row)
    assert (after.status, after.reason) == (DeliveryStatus.FAILED, "REJECTED")
    assert after.delivered_at is not None  # what the vendor said is kept


async def test_an_unverified_request_records_nothing(chat_api):
    api = chat_api
    _, row = await sent_delivery(api)
    response = await post(api, [{"kind": "DELIVERED", "id": row.provider_id}], signed=False)
    assert response.status_code == 401
    assert "id" not in response.text
    assert await DeliveryEvent.filter(delivery_id=row.id).count() == 0
    [after] = await rows_of(row)
    assert after.status is DeliveryStatus.SENT


async def test_an_unreadable_body_records_nothing(chat_api):
    api = chat_api
    body = b"not json"
    response = await api.client.post(
        "/feedback/acme-chat", content=body, headers={"x-chat-signature": sign(body)}
    )
    assert response.status_code == 400
    assert await DeliveryEvent.all().count() == 0


@pytest.mark.parametrize("name", ["no-such-provider", "inbox", "smtp"])
async def test_a_provider_that_takes_no_feedback_is_not_found(chat_api, name):
    response = await post(chat_api, [], provider=name)
    assert response.status_code == 404


async def test_a_provider_cannot_speak_for_another_providers_deliveries(chat_api):
    api = chat_api
    _, row = await sent_delivery(api, channel="chat2")  # sent by other-chat
    response = await post(
        api, [{"kind": "DELIVERED", "id": row.provider_id}, {"kind": "OPENED", "ours": str(row.id)}]
    )
    assert response.json() == {"recorded": 0, "duplicates": 0, "unmatched": 2}
    [after] = await rows_of(row)
    assert (after.status, after.opened_at) == (DeliveryStatus.SENT, None)
    # Its own provider may.
    own = await post(api, [{"kind": "DELIVERED", "id": row.provider_id}], provider="other-chat")
    assert own.json()["recorded"] == 1


async def test_a_malformed_delivery_id_is_unmatched(chat_api):
    response = await post(chat_api, [{"kind": "DELIVERED", "ours": "not-a-uuid"}])
    assert response.json() == {"recorded": 0, "duplicates": 0, "unmatched": 1}


async def test_changes_are_announced_once_and_replays_not_at_all(chat_api):
    """What `deliveryUpdates` subscribers hear: each recorded change, never a replay."""
    api = chat_api
    _, row = await sent_delivery(api)
    heard: list[list[tuple[str, DeliveryStatus]]] = []

    async def collect(rows: Sequence[Delivery]) -> None:
        heard.append([(str(r.id), r.status) for r in rows])

    recorder = FeedbackRecorder(on_change=collect)
    at = datetime(2026, 11, 30, 12, tzinfo=UTC)
    receipt = [Feedback(kind=FeedbackKind.DELIVERED, provider_id=row.provider_id, at=at)]
    assert (await recorder.record("acme-chat", receipt)).recorded == 1
    assert heard == [[(str(row.id), DeliveryStatus.DELIVERED)]]
    assert (await recorder.record("acme-chat", receipt)).duplicates == 1
    assert len(heard) == 1


async def test_a_replayed_receipt_without_a_time_is_recognised(chat_api):
    """Some vendors send no time (the SMS receipts): the replay still matches."""
    api = chat_api
    _, row = await sent_delivery(api)
    receipt = [{"kind": "DELIVERED", "id": row.provider_id, "detail": "ok"}]
    assert (await post(api, receipt)).json()["recorded"] == 1
    assert (await post(api, receipt)).json() == {"recorded": 0, "duplicates": 1, "unmatched": 0}
    assert await DeliveryEvent.filter(delivery_id=row.id).count() == 1
