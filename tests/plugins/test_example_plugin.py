"""A vendor's plugin, pip-installed into the environment, loads through its entry point and
delivers: the example webhook plugin under plugins/examples/."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Api, data, make_settings
from tests.providers.peers import HttpPeer
from tidings.api.app import create_app
from tidings.api.runtime import default_plugin_manager
from tidings.core.enums import Role

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "examples" / "tidings-webhook"
SECRET = "webhook-signing-secret"


class Receiver(HttpPeer):
    def route(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict, Any]:
        self.record({"path": path, "headers": headers, "raw": raw})
        return 200, {"x-request-id": f"hook-{len(self.requests)}"}, {"ok": True}


def pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def installed_plugin() -> Iterator[None]:
    pip("install", "--no-deps", "--no-build-isolation", str(PLUGIN))
    importlib.invalidate_caches()
    yield
    pip("uninstall", "-y", "tidings-webhook")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    peer = Receiver()
    yield peer
    peer.close()


def test_the_entry_point_is_found_and_stays_dormant_unconfigured(installed_plugin):
    from tidings.plugins.manager import load_providers

    manager = default_plugin_manager()
    names = {name for name, _ in manager.list_name_plugin()}
    assert "webhook" in names
    manager.check_pending()
    assert [p.name for p in load_providers(manager, {})] == ["inbox"]
    configured = load_providers(manager, {"TIDINGS_WEBHOOK_SECRET": SECRET})
    assert "webhook" in [p.name for p in configured]


async def test_send_through_the_installed_plugin(installed_plugin, receiver, db):
    settings = make_settings(db, TIDINGS_WEBHOOK_SECRET=SECRET, TIDINGS_IN_PROCESS_WORKER="false")
    app = create_app(settings, manage_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        api = Api(client=client, app=app)
        _, token = await api.staff(Role.ADMIN)
        channels = data(await api.gql("{ channels { name providers } }", token=token))["channels"]
        assert {"name": "webhook", "providers": ["webhook"]} in channels

        customer = data(
            await api.gql(
                "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }",
                {
                    "i": {
                        "externalId": "w1",
                        "tier": "HIGH_VALUE",
                        "attributes": {"webhook": f"{receiver.url}/hook"},
                    }
                },
                token,
            )
        )["createCustomer"]["customer"]["id"]
        data(
            await api.gql(
                "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { errors { code } } }",
                {
                    "i": {
                        "key": "alerts",
                        "name": "Alerts",
                        "kind": "TRANSACTIONAL",
                        "defaultChannels": ["webhook"],
                    }
                },
                token,
            )
        )
        sent = data(
            await api.gql(
                "mutation($i: SendInput!) { send(input: $i) { message { id } errors { code } } }",
                {
                    "i": {
                        "idempotencyKey": "w",
                        "category": "alerts",
                        "to": {"customerId": customer},
                        "content": {"title": "Build failed", "body": "main is red"},
                        "data": {"run": 7},
                    }
                },
                token,
            )
        )["send"]
        assert sent["errors"] == []
        assert await app.state.runtime.worker.run_once() == 1

        # The receiver reports back, signed as it was signed to; unsigned is refused.
        delivery_id = json.loads(receiver.requests[0]["raw"])["id"]
        receipt = json.dumps({"id": delivery_id, "event": "delivered"}).encode()
        refused = await client.post("/feedback/webhook", content=receipt)
        assert refused.status_code == 401
        signature = hmac.new(SECRET.encode(), receipt, hashlib.sha256).hexdigest()
        accepted = await client.post(
            "/feedback/webhook",
            content=receipt,
            headers={"x-tidings-signature": f"sha256={signature}"},
        )
        assert accepted.json() == {"recorded": 1, "duplicates": 0, "unmatched": 0}
        status = data(
            await api.gql(
                "query($id: ID!) { message(id: $id) { deliveries { nodes { status deliveredAt } } } }",
                {"id": sent["message"]["id"]},
                token,
            )
        )["message"]["deliveries"]["nodes"]
        assert [d["status"] for d in status] == ["DELIVERED"] and status[0]["deliveredAt"]
        await app.state.runtime.registry.aclose()

    [request] = receiver.requests
    assert request["path"] == "/hook"
    payload = json.loads(request["raw"])
    # Tidings adds the customer's preference link on every channel, a vendor's too.
    assert payload["data"].pop("preferences_url").startswith("http://127.0.0.1:8000/preferences/")
    assert (payload["title"], payload["body"], payload["data"]) == (
        "Build failed",
        "main is red",
        {"run": 7},
    )
    expected = hmac.new(SECRET.encode(), request["raw"], hashlib.sha256).hexdigest()
    assert request["headers"]["x-tidings-signature"] == f"sha256={expected}"
    assert request["headers"]["idempotency-key"] == payload["id"]
