"""The SMTP provider's connection pool against a real aiosmtpd server on 127.0.0.1: sessions
are reused across batches, a dropped one is replaced and its message sent, closing QUITs them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.providers.conftest import outbound
from tests.providers.peers import SmtpSink, start_smtp
from tests.providers.test_smtp import settings_for
from tidings.plugins import ProviderUnavailableError
from tidings.providers.smtp import SmtpEmailProvider, SmtpSettings


class CountingSink(SmtpSink):
    """Also counts QUITs and, when told, closes the connection instead of answering MAIL."""

    def __init__(self) -> None:
        super().__init__()
        self.quits = 0
        self.drop_next_mail = False
        self.dropped_peers: list[Any] = []

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.drop_next_mail:
            self.drop_next_mail = False
            self.dropped_peers.append(session.peer)
            server.transport.close()  # the relay goes away mid-conversation
            return "421 4.4.2 gone"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope):
        self.quits += 1
        return "221 Bye"


@pytest.fixture
def sink() -> Iterator[CountingSink]:
    sink = CountingSink()
    controller: Controller = start_smtp(sink)
    sink.port = controller.port  # type: ignore[attr-defined]
    yield sink
    controller.stop()


def pooled(sink: CountingSink, size: int) -> SmtpEmailProvider:
    return SmtpEmailProvider(settings_for(sink.port, TIDINGS_SMTP_POOL_SIZE=str(size)))  # type: ignore[attr-defined]


async def test_connections_are_reused_across_batches(sink: CountingSink) -> None:
    provider = pooled(sink, 2)
    await provider.start()
    try:
        first = await provider.send([outbound(n, f"a{n}@example.net") for n in range(6)])
        second = await provider.send([outbound(n, f"b{n}@example.net") for n in range(6, 12)])
    finally:
        await provider.aclose()

    assert all(r.ok for r in [*first, *second])
    assert [r.provider_id for r in first] == [f"<dlv-{n:04d}@shop.example>" for n in range(6)]
    assert provider.pool.opened == 2
    assert len({r.peer for r in sink.received}) == 2  # both sessions carried mail
    assert len(sink.received) == 12


async def test_concurrent_batches_wait_for_a_free_connection(sink: CountingSink) -> None:
    provider = pooled(sink, 1)
    await provider.start()
    try:
        batches = await asyncio.gather(
            *(
                provider.send([outbound(10 * b + n, f"c{b}{n}@example.net") for n in range(3)])
                for b in range(3)
            )
        )
    finally:
        await provider.aclose()

    assert all(r.ok for batch in batches for r in batch)
    assert provider.pool.opened == 1
    assert len({r.peer for r in sink.received}) == 1
    assert len(sink.received) == 9


async def test_a_dropped_connection_is_replaced_and_the_message_sent(sink: CountingSink) -> None:
    provider = pooled(sink, 1)
    await provider.start()
    try:
        warm = await provider.send([outbound(1, "a@example.net")])
        sink.drop_next_mail = True
        after = await provider.send([outbound(2, "b@example.net"), outbound(3, "c@example.net")])
    finally:
        await provider.aclose()

    assert warm[0].ok and all(r.ok for r in after), after
    assert [r.rcpt_tos for r in sink.received] == [
        ["a@example.net"],
        ["b@example.net"],
        ["c@example.net"],
    ]
    assert provider.pool.opened == 2
    [dropped] = sink.dropped_peers
    assert sink.received[0].peer == dropped  # the first session carried mail, then dropped
    assert {r.peer for r in sink.received[1:]} == {sink.received[1].peer} != {dropped}


async def test_a_fresh_connection_that_drops_is_not_retried(sink: CountingSink) -> None:
    provider = pooled(sink, 1)
    await provider.start()
    sink.drop_next_mail = True  # the very first session: nothing says a retry would fare better
    try:
        [result] = await provider.send([outbound(1, "a@example.net")])
        [later] = await provider.send([outbound(2, "b@example.net")])
    finally:
        await provider.aclose()

    assert type(result.error) is ProviderUnavailableError
    assert "connection lost" in result.error.message
    assert later.ok, later.error  # the broken session was discarded, not handed out again
    assert provider.pool.opened == 2


async def test_closing_the_provider_quits_every_connection(sink: CountingSink) -> None:
    provider = pooled(sink, 3)
    await provider.start()
    results = await provider.send([outbound(n, f"d{n}@example.net") for n in range(6)])
    await provider.aclose()

    assert all(r.ok for r in results)
    assert provider.pool.opened == 3
    assert sink.quits == 3
    assert not provider.pool.has_idle


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 4), ("1", 1), (" 16 ", 16), ("100", 100), ("0", None), ("101", None), ("x", None)],
)
def test_pool_size_setting(raw: str | None, expected: int | None) -> None:
    config = {"TIDINGS_SMTP_HOST": "mx", "TIDINGS_SMTP_FROM": "a@b.example"}
    if raw is not None:
        config["TIDINGS_SMTP_POOL_SIZE"] = raw
    if expected is None:
        with pytest.raises(ValueError, match="TIDINGS_SMTP_POOL_SIZE"):
            SmtpSettings.from_config(config)
        return
    settings = SmtpSettings.from_config(config)
    assert settings is not None and settings.pool_size == expected
