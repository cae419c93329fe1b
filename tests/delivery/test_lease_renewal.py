"""A worker renews its lease while its batch is in hand: a send slower than the lease does not
let a second claimer take the rows and send them again."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import Api, make_settings
from tests.delivery.support import create_category, create_customer, rows, send
from tidings.api.app import create_app
from tidings.core.delivery.claims import claim_due
from tidings.core.enums import DeliveryStatus, Role
from tidings.plugins import OutboundMessage, SendResult, hookimpl
from tidings.plugins.manager import plugin_manager
from tidings.providers import BUILTIN_PROVIDER_MODULES

SEND_SECONDS = 2.6  # more than twice the one-second lease


class SlowChatProvider:
    name = "slow-chat"
    channel = "chat"
    max_batch = 10

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def start(self) -> None:
        return None

    async def send(self, batch: Sequence[OutboundMessage]) -> Sequence[SendResult]:
        await asyncio.sleep(SEND_SECONDS)
        self.sent.extend(m.delivery_id for m in batch)
        return [SendResult(ok=True, provider_id=m.delivery_id) for m in batch]

    async def aclose(self) -> None:
        return None


class SlowPlugin:
    def __init__(self) -> None:
        self.provider = SlowChatProvider()

    @hookimpl
    def tidings_providers(self, config: Mapping[str, str]) -> list[SlowChatProvider]:
        return [self.provider]


async def test_a_batch_slower_than_the_lease_is_not_claimed_by_another_worker(db):
    plugin = SlowPlugin()
    manager = plugin_manager(builtins=[*BUILTIN_PROVIDER_MODULES, plugin], entry_points=False)
    settings = make_settings(
        db, TIDINGS_IN_PROCESS_WORKER="false", TIDINGS_WORKER_LEASE_SECONDS="1"
    )
    app = create_app(settings, manager=manager, manage_database=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        api = Api(client=c, app=app)
        _, token = await api.staff(Role.ADMIN)
        await create_category(api, token, "parcels", "TRANSACTIONAL", defaultChannels=["chat"])
        customer = await create_customer(api, token, attributes={"chat": "ann-handle"})
        message = await send(api, token, "parcels", customer["id"], title="Parcel", body="Here")

        worker = app.state.runtime.worker
        working = asyncio.create_task(worker.run_once())
        stolen: list = []
        for _ in range(4):  # a second worker tries, past the first lease's end, several times
            await asyncio.sleep(0.55)
            stolen += await claim_due(datetime.now(UTC), 10, timedelta(seconds=1))
        assert await working == 1

    assert stolen == []
    [row] = await rows(message)
    assert (row.status, row.attempts, row.locked_until) == (DeliveryStatus.SENT, 1, None)
    assert len(plugin.provider.sent) == 1
