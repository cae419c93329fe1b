"""A second provider of a channel takes over when the first is down, within one attempt."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from tests.conftest import Api, data, make_settings
from tests.delivery.conftest import deliveries, grant, marketing_customer, send, smtp_settings
from tests.providers.peers import free_port
from tidings.api.app import create_app
from tidings.core.enums import Role
from tidings.plugins import hookimpl
from tidings.plugins.manager import plugin_manager
from tidings.providers import BUILTIN_PROVIDER_MODULES
from tidings.providers.smtp import SmtpEmailProvider, SmtpSettings


class BackupSmtpProvider(SmtpEmailProvider):
    name = "smtp-backup"


class BackupPlugin:
    """A plugin, as a vendor would ship one, adding a second email provider."""

    def __init__(self, port: int) -> None:
        self.port = port

    @hookimpl
    def tidings_providers(self, config: Mapping[str, str]) -> list[SmtpEmailProvider]:
        settings = SmtpSettings.from_config({**config, **smtp_settings(self.port)})
        assert settings is not None
        return [BackupSmtpProvider(settings)]


async def test_second_provider_takes_over_when_the_first_is_down(db, smtp):
    dead = free_port()  # nothing listens: the built-in smtp provider cannot connect
    manager = plugin_manager(
        builtins=[*BUILTIN_PROVIDER_MODULES, BackupPlugin(smtp.controller.port)],
        entry_points=False,
    )
    settings = make_settings(db, **smtp_settings(dead), TIDINGS_IN_PROCESS_WORKER="false")
    app = create_app(settings, manager=manager, manage_database=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        api = Api(client=c, app=app)
        _, admin = await api.staff(Role.ADMIN)
        channels = data(await api.gql("{ channels { name providers } }", token=admin))["channels"]
        assert {"name": "email", "providers": ["smtp", "smtp-backup"]} in channels

        token, customer = await marketing_customer(api)
        await grant(api, token, customer)
        message = await send(api, token, customer, "failover")
        assert await app.state.runtime.worker.run_once() == 1
        [row] = await deliveries(api, token, message)
        assert (row["status"], row["provider"], row["attempts"]) == ("SENT", "smtp-backup", 1)
        await app.state.runtime.registry.aclose()
    assert [m.rcpt_tos for m in smtp.received] == [["ann@example.com"]]
