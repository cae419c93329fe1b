"""The breaker in the worker: a provider that is down gets no more deliveries once its breaker
opens; they fail over to the channel's next provider, or, with none, wait without spending an
attempt; a probe finds it back and the waiting deliveries go."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import Api, make_settings
from tests.delivery.support import create_category, create_customer, rows, send
from tidings.api.app import create_app
from tidings.core.delivery.breaker import BreakerState
from tidings.core.enums import DeliveryStatus, Role
from tidings.plugins import OutboundMessage, ProviderUnavailableError, SendResult, hookimpl
from tidings.plugins.manager import plugin_manager
from tidings.providers import BUILTIN_PROVIDER_MODULES


class ChatProvider:
    channel = "chat"
    max_batch = 50

    def __init__(self, name: str, up: bool) -> None:
        self.name = name
        self.up = up
        self.calls: list[int] = []  # batch sizes handed over

    async def start(self) -> None:
        return None

    async def send(self, batch: Sequence[OutboundMessage]) -> Sequence[SendResult]:
        self.calls.append(len(batch))
        if not self.up:
            raise ProviderUnavailableError("connection refused")
        return [SendResult(ok=True, provider_id=m.delivery_id) for m in batch]

    async def aclose(self) -> None:
        return None


class ChatPlugin:
    def __init__(self, *providers: ChatProvider) -> None:
        self.providers = list(providers)

    @hookimpl
    def tidings_providers(self, config: Mapping[str, str]) -> list[ChatProvider]:
        return self.providers


async def chat_app(db: str, *providers: ChatProvider):
    manager = plugin_manager(
        builtins=[*BUILTIN_PROVIDER_MODULES, ChatPlugin(*providers)], entry_points=False
    )
    settings = make_settings(db, TIDINGS_IN_PROCESS_WORKER="false")
    return create_app(settings, manager=manager, manage_database=False)


async def send_chats(api: Api, count: int, key: str) -> list[str]:
    _, token = await api.staff(Role.ADMIN)
    await create_category(api, token, key, "TRANSACTIONAL", defaultChannels=["chat"])
    messages = []
    for n in range(count):
        customer = await create_customer(api, token, attributes={"chat": f"handle-{key}-{n}"})
        messages.append(await send(api, token, key, customer["id"], title="Hi", body="There"))
    return messages


async def test_an_open_breaker_sends_the_channel_to_its_next_provider(db):
    down, up = ChatProvider("chat-a", up=False), ChatProvider("chat-b", up=True)
    app = await chat_app(db, down, up)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        api = Api(client=c, app=app)
        first = await send_chats(api, 3, "parcels")
        worker = app.state.runtime.worker
        assert await worker.run_once() == 3
        assert worker.breakers["chat-a"].state is BreakerState.OPEN  # three unavailable
        later = await send_chats(api, 2, "orders")
        assert await worker.run_once() == 2

    assert down.calls == [3]  # not handed the later two: its breaker is open
    assert up.calls == [3, 2]
    for message in [*first, *later]:
        [row] = await rows(message)
        assert (row.status, row.provider, row.attempts) == (DeliveryStatus.SENT, "chat-b", 1)


async def test_with_no_other_provider_deliveries_wait_unspent_until_a_probe_succeeds(db):
    provider = ChatProvider("chat-a", up=False)
    app = await chat_app(db, provider)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        api = Api(client=c, app=app)
        messages = await send_chats(api, 4, "parcels")
        worker = app.state.runtime.worker
        options = worker.options.breaker
        now = datetime.now(UTC)
        assert await worker.run_once(now=now) == 4
        waiting = [row for message in messages for row in await rows(message)]
        for row in waiting:
            assert (row.status, row.reason, row.attempts) == (DeliveryStatus.QUEUED, None, 0)
            assert row.not_before > now
            assert row.not_before <= now + timedelta(seconds=options.probe_after + 1)
            assert "chat-a unavailable" in row.last_error
        assert worker.breakers["chat-a"].state is BreakerState.OPEN
        assert await worker.run_once(now=now) == 0  # nothing due until the probe

        # The probe time comes: one delivery is handed over, the others wait again, unspent.
        worker.breakers["chat-a"].probe_at = 0.0
        provider.up = True
        due = max(row.not_before for row in waiting) + timedelta(seconds=1)
        assert await worker.run_once(now=due) == 4
        assert provider.calls == [4, 1]
        assert worker.breakers["chat-a"].state is BreakerState.CLOSED
        statuses = sorted((row.status.value, row.attempts) for row in await all_rows(messages))
        assert statuses == [("QUEUED", 0), ("QUEUED", 0), ("QUEUED", 0), ("SENT", 1)]
        # Released at a steady rate afterwards (one every 1/rate s), not all at one instant.
        held = [row for row in await all_rows(messages) if row.status.value == "QUEUED"]
        assert len({row.not_before for row in held}) == 3
        for _ in range(50):
            await asyncio.sleep(0.05)
            due += timedelta(seconds=1)
            await worker.run_once(now=due)
            if all(row.status is DeliveryStatus.SENT for row in await all_rows(messages)):
                break
    assert provider.calls[:2] == [4, 1] and sum(provider.calls) == 4 + 4
    for row in await all_rows(messages):
        assert (row.status, row.attempts) == (DeliveryStatus.SENT, 1)


async def all_rows(messages: list[str]) -> list:
    return [row for message in messages for row in await rows(message)]
