"""The figures move with real work: a send through the worker to a real SMTP server, a
provider that is down, a vendor's receipt; and no scrape names a customer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import Api, make_settings
from tests.core.support import raw_id
from tests.delivery.conftest import grant, mail_app, marketing_customer, send
from tests.delivery.test_feedback import ChatPlugin, post, sent_delivery
from tests.metrics.support import scrape, value
from tests.providers.peers import start_smtp
from tidings.api.app import create_app
from tidings.plugins.manager import plugin_manager
from tidings.providers import BUILTIN_PROVIDER_MODULES

EMAIL = "ann.metrics@example.com"


@pytest.fixture
async def mail(db: str, smtp: Any) -> AsyncIterator[Api]:
    async with mail_app(db, smtp, TIDINGS_METRICS="on") as api:
        yield api


async def test_a_send_moves_the_queue_the_deliveries_and_the_provider_figures(mail, smtp):
    api = mail
    token, customer = await marketing_customer(api, email=EMAIL)
    await grant(api, token, customer)
    message = await send(api, token, customer, "metrics-1")

    before = await scrape(api)
    assert value(before, "tidings_queue_deliveries", channel="email", state="due") == 1
    assert value(before, "tidings_queue_oldest_due_age_seconds", channel="email") >= 0
    assert value(before, "tidings_deliveries", channel="email", status="queued", reason="none") == 1

    assert await api.runtime.worker.run_once() == 1
    assert len(smtp.received) == 1
    after = await scrape(api)
    assert value(after, "tidings_queue_deliveries", channel="email", state="due") == 0
    assert value(after, "tidings_deliveries", channel="email", status="queued", reason="none") == 0
    assert value(after, "tidings_deliveries", channel="email", status="sent", reason="none") == 1
    smtp_labels = {"provider": "smtp", "channel": "email"}
    assert value(after, "tidings_provider_messages_total", **smtp_labels) == 1
    assert value(after, "tidings_provider_send_duration_seconds_count", **smtp_labels) == 1
    assert value(after, "tidings_provider_send_duration_seconds_sum", **smtp_labels) > 0

    # A second send to a customer who withdrew is suppressed: counted by its reason.
    await api.gql(
        "mutation($i: WithdrawPermissionInput!) { withdrawPermission(input: $i) { errors { code } } }",
        {"i": {"customerId": customer, "channel": "email", "category": "promos", "source": "api"}},
        token,
    )
    await send(api, token, customer, "metrics-2")
    suppressed = await scrape(api)
    assert (
        value(
            suppressed,
            "tidings_deliveries",
            channel="email",
            status="suppressed",
            reason="no_permission",
        )
        == 1
    )

    # Nothing in the output names the customer, its address or the message; every label
    # is one of a few known names, whatever was sent.
    text = (await api.client.get("/metrics")).text
    for personal in (EMAIL, customer, message, str(raw_id(customer)), str(raw_id(message))):
        assert personal not in text
    labels = {name for _, pairs in suppressed for name, _ in pairs}
    assert labels <= {"channel", "status", "reason", "provider", "state", "error", "kind", "le"}


async def test_a_provider_that_is_down_counts_as_an_error(mail, smtp):
    api = mail
    token, customer = await marketing_customer(api, email=EMAIL)
    await grant(api, token, customer)
    await send(api, token, customer, "metrics-down")
    smtp.controller.stop()  # nothing listens on its port now
    await api.runtime.worker.run_once()
    smtp.controller = start_smtp(smtp)  # for the fixture to stop
    samples = await scrape(api)
    errors = {
        dict(labels)["error"]: v
        for (name, labels), v in samples.items()
        if name == "tidings_provider_errors_total"
    }
    assert sum(errors.values()) == 1, errors
    assert set(errors) <= {"unavailable", "transient"}
    assert value(samples, "tidings_provider_messages_total", provider="smtp", channel="email") == 1
    # Still claimable: a retry is scheduled, not lost.
    queued = value(samples, "tidings_deliveries", channel="email", status="queued", reason="none")
    assert queued == 1


@pytest.fixture
async def chat(db: str) -> AsyncIterator[Api]:
    manager = plugin_manager(builtins=[*BUILTIN_PROVIDER_MODULES, ChatPlugin()], entry_points=False)
    settings = make_settings(db, TIDINGS_IN_PROCESS_WORKER="false", TIDINGS_METRICS="on")
    app = create_app(settings, manager=manager, manage_database=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield Api(client=c, app=app)
    app.state.runtime.templates.close()


async def test_feedback_is_counted_by_channel_and_kind_once(chat):
    api = chat
    _, row = await sent_delivery(api)
    receipt = [{"kind": "DELIVERED", "id": row.provider_id}]
    assert (await post(api, receipt)).json()["recorded"] == 1
    assert (await post(api, receipt)).json()["duplicates"] == 1  # a replay is not new
    await post(api, [{"kind": "CLICKED", "id": row.provider_id}])
    samples = await scrape(api)
    assert value(samples, "tidings_feedback_total", channel="chat", kind="delivered") == 1
    assert value(samples, "tidings_feedback_total", channel="chat", kind="clicked") == 1
    confirmed = value(
        samples, "tidings_deliveries", channel="chat", status="delivered", reason="none"
    )
    assert confirmed == 1
    assert value(samples, "tidings_provider_messages_total", provider="acme-chat", channel="chat")
