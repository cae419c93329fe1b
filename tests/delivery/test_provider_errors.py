"""A provider raising something other than our error classes: the batch is retried as
transient (the contract), and the failure is logged with the provider's name and the
exception's type, never with an address or message text the exception may carry."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import httpx

from tests.conftest import Api, make_settings
from tests.delivery.support import create_category, create_customer, rows, send
from tidings.api.app import create_app
from tidings.core.enums import DeliveryStatus, Role
from tidings.plugins import OutboundMessage, SendResult, hookimpl
from tidings.plugins.manager import plugin_manager
from tidings.providers import BUILTIN_PROVIDER_MODULES

HANDLE = "ann.private-handle@chat.example"
BODY = "Your parcel 7781 is at the back door"


class LeakyChatProvider:
    """A vendor's provider whose client library puts the request into its exceptions."""

    name = "leaky-chat"
    channel = "chat"
    max_batch = 10

    async def start(self) -> None:
        return None

    async def send(self, batch: Sequence[OutboundMessage]) -> Sequence[SendResult]:
        message = batch[0]
        raise ConnectionResetError(f"POST /send to={message.address} text={message.body!r}")

    async def aclose(self) -> None:
        return None


class LeakyPlugin:
    @hookimpl
    def tidings_providers(self, config: Mapping[str, str]) -> list[LeakyChatProvider]:
        return [LeakyChatProvider()]


async def test_a_foreign_exception_is_logged_without_personal_data_and_retried(db, caplog):
    manager = plugin_manager(
        builtins=[*BUILTIN_PROVIDER_MODULES, LeakyPlugin()], entry_points=False
    )
    app = create_app(
        make_settings(db, TIDINGS_IN_PROCESS_WORKER="false"), manager=manager, manage_database=False
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        api = Api(client=c, app=app)
        _, token = await api.staff(Role.ADMIN)
        await create_category(api, token, "parcels", "TRANSACTIONAL", defaultChannels=["chat"])
        customer = await create_customer(api, token, attributes={"chat": HANDLE})
        message = await send(api, token, "parcels", customer["id"], title="Parcel", body=BODY)

        with caplog.at_level(logging.DEBUG):
            assert await app.state.runtime.worker.run_once() == 1

    [row] = await rows(message)
    assert (row.status, row.reason, row.provider) == (DeliveryStatus.QUEUED, None, "leaky-chat")
    assert row.not_before is not None  # retried with backoff
    said = [r for r in caplog.records if r.name.startswith("tidings")]
    assert any(
        "leaky-chat" in r.getMessage() and "ConnectionResetError" in r.getMessage() for r in said
    ), [r.getMessage() for r in said]
    logged = caplog.text + " ".join(r.getMessage() for r in caplog.records)
    assert HANDLE not in logged
    assert "parcel 7781" not in logged
    assert HANDLE not in (row.last_error or "") and "7781" not in (row.last_error or "")
