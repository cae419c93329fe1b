"""The schema tests' app is wired to a real local mail server (aiosmtpd) that refuses the
authorisation world's target address at RCPT, so a delivery there FAILS for real and
carries the provider's error (`Delivery.lastError`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.conftest import Api, make_settings
from tests.providers.peers import SmtpSink, start_smtp
from tests.schema.authz_world import REFUSED_RCPT, TARGET_EMAIL
from tidings.api.app import create_app


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink(rcpt_replies={TARGET_EMAIL: REFUSED_RCPT})
    controller = start_smtp(sink)
    yield sink, controller.port
    controller.stop()


@pytest.fixture
async def api(
    request: pytest.FixtureRequest, db: str, smtp_sink: tuple[SmtpSink, int]
) -> AsyncIterator[Api]:
    """A test module may set `APP_SETTINGS` (a dict of TIDINGS_* values) for its app."""
    _, port = smtp_sink
    settings = make_settings(
        db,
        TIDINGS_SMTP_HOST="127.0.0.1",
        TIDINGS_SMTP_PORT=str(port),
        TIDINGS_SMTP_FROM="news@corp.example",
        TIDINGS_SMTP_SECURITY="none",
        **getattr(request.module, "APP_SETTINGS", {}),
    )
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client=client, app=app)
    await app.state.runtime.registry.aclose()
