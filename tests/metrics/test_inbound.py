"""`tidings inbound-smtp` counts the bounces and complaints it records, and serves them on
TIDINGS_METRICS_PORT (it has no HTTP server of its own)."""

from __future__ import annotations

import httpx

from tests.delivery.inbound import inbound_smtp
from tests.delivery.test_email_feedback import BOUNCES, bounce_and_complain, sent
from tests.live.procs import free_port
from tests.metrics.support import parse, value


async def test_inbound_smtp_serves_the_feedback_it_recorded(bounce_api, db, tmp_path):
    api = bounce_api
    token, customer, bounced = await sent(api, "metrics-bounce")
    _, _, complained = await sent(api, "metrics-complaint", (token, customer))
    port = free_port()
    settings = {"TIDINGS_METRICS": "on", "TIDINGS_METRICS_PORT": str(port)}
    async with inbound_smtp(tmp_path, db, TIDINGS_BOUNCE_ADDRESS=BOUNCES, **settings) as inbound:
        await bounce_and_complain(inbound, bounced, complained)
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
        assert response.status_code == 200, response.text
        samples = parse(response.text)
        assert value(samples, "tidings_feedback_total", channel="email", kind="bounced") == 1
        assert value(samples, "tidings_feedback_total", channel="email", kind="complained") == 1
        assert (
            value(samples, "tidings_deliveries", channel="email", status="bounced", reason="none")
            == 1
        )
        inbound.stop()
