"""Soft bounces suppress an address once there are three at least, the first and the last 72
hours apart or more, with no delivery arriving between them; a replay never counts. A
vendor's mail provider (through the plugin interface, as any vendor's) reports bounces with
its own times, signed, at `POST /feedback/acme-mail`."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import Api, make_settings
from tests.delivery.support import create_category, create_customer, raw_id, rows, send
from tidings.api.app import create_app
from tidings.core.enums import DeliveryReason, DeliveryStatus, Role, SuppressionReason
from tidings.core.models import BounceTally, Customer, Delivery, Suppression
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

SECRET = b"acme-mail-webhook"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


class AcmeMail:
    """A vendor's email provider: its ids are "mail-<our id>", its webhook signed JSON."""

    name = "acme-mail"
    channel = "email"
    max_batch = 50

    async def start(self) -> None:
        return None

    async def send(self, batch: Sequence[OutboundMessage]) -> Sequence[SendResult]:
        return [SendResult(ok=True, provider_id=f"mail-{m.delivery_id}") for m in batch]

    async def feedback(self, request: FeedbackRequest) -> list[Feedback]:
        expected = hmac.new(SECRET, request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-acme-signature", ""), expected):
            raise FeedbackRejected("bad signature")
        return [
            Feedback(
                kind=FeedbackKind(item["kind"]),
                provider_id=item["id"],
                at=datetime.fromisoformat(item["at"]),
                permanent=item.get("permanent", False),
            )
            for item in json.loads(request.body)
        ]

    async def aclose(self) -> None:
        return None


class AcmePlugin:
    @hookimpl
    def tidings_providers(self, config: Mapping[str, str]) -> list[AcmeMail]:
        return [AcmeMail()]


@pytest.fixture
async def mail_app(db: str) -> AsyncIterator[Api]:
    manager = plugin_manager(builtins=[*BUILTIN_PROVIDER_MODULES, AcmePlugin()], entry_points=False)
    app = create_app(
        make_settings(db, TIDINGS_IN_PROCESS_WORKER="false"), manager=manager, manage_database=False
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield Api(client=c, app=app)
    app.state.runtime.templates.close()


async def sent(api: Api, count: int, email: str = "ann@example.com") -> tuple[str, list[Delivery]]:
    """An admin token and `count` SENT mails to one customer."""
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "receipts", "TRANSACTIONAL", defaultChannels=["email"])
    customer = await create_customer(api, admin, email=email)
    found = []
    for _ in range(count):
        [row] = await rows(await send(api, admin, "receipts", customer["id"]))
        found.append(row)
    assert await api.runtime.worker.run_once() == count
    return customer["id"], [await Delivery.get(id=row.id) for row in found]


async def report(api: Api, row: Delivery, kind: str, hours: float, permanent: bool = False):
    items = [
        {
            "kind": kind,
            "id": row.provider_id,
            "at": (T0 + timedelta(hours=hours)).isoformat(),
            "permanent": permanent,
        }
    ]
    body = json.dumps(items).encode()
    signature = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    answer = await api.client.post(
        "/feedback/acme-mail", content=body, headers={"x-acme-signature": signature}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def suppressed() -> list[SuppressionReason]:
    return [row.reason for row in await Suppression.filter(lifted_at__isnull=True)]


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        ((0, 24, 71), []),  # three, but within 72 hours
        ((0, 71.9, 71.99), []),
        ((0, 36, 72), [SuppressionReason.SOFT_BOUNCES]),  # three across 72 hours
        ((72, 0, 36), [SuppressionReason.SOFT_BOUNCES]),  # reported out of order
        ((0, 100), []),  # across 72 hours, but two
    ],
)
async def test_three_soft_bounces_across_72_hours_suppress(mail_app, hours, expected):
    api = mail_app
    customer, deliveries = await sent(api, len(hours))
    for row, at in zip(deliveries, hours, strict=True):
        assert (await report(api, row, "BOUNCED", at))["recorded"] == 1
    assert await suppressed() == expected
    [row] = await rows(await send(api, await admin_token(api), "receipts", customer))
    if expected:
        assert (row.status, row.reason) == (DeliveryStatus.SUPPRESSED, DeliveryReason.NO_ADDRESS)
        assert row.rules[-1]["detail"] == "suppressed: soft bounces"
    else:
        assert row.status is DeliveryStatus.QUEUED


async def admin_token(api: Api) -> str:
    return (await api.staff(Role.ADMIN))[1]


async def test_a_delivery_between_soft_bounces_starts_the_count_again(mail_app):
    api = mail_app
    _, deliveries = await sent(api, 6)
    await report(api, deliveries[0], "BOUNCED", 0)
    await report(api, deliveries[1], "BOUNCED", 36)
    await report(api, deliveries[2], "DELIVERED", 40)  # it arrived: the address works
    await report(api, deliveries[3], "BOUNCED", 72)
    assert await suppressed() == []
    [tally] = await BounceTally.all()
    assert tally.soft_count == 1  # the run starts again at 72 hours
    await report(api, deliveries[4], "BOUNCED", 100)
    assert await suppressed() == []
    await report(api, deliveries[5], "BOUNCED", 144)  # 72 to 144: three across 72 hours
    assert await suppressed() == [SuppressionReason.SOFT_BOUNCES]


async def test_a_replayed_soft_bounce_never_counts_twice(mail_app):
    api = mail_app
    _, deliveries = await sent(api, 3)
    await report(api, deliveries[0], "BOUNCED", 0)
    await report(api, deliveries[1], "BOUNCED", 72)
    replay = await report(api, deliveries[1], "BOUNCED", 72)
    assert replay == {"recorded": 0, "duplicates": 1, "unmatched": 0}
    assert await suppressed() == []  # counted, the replay would have made three across 72h
    assert (await BounceTally.get()).soft_count == 2
    await report(api, deliveries[2], "BOUNCED", 80)
    assert await suppressed() == [SuppressionReason.SOFT_BOUNCES]


async def test_a_hard_bounce_stops_the_address_whatever_its_case_and_outlives_the_customer(
    mail_app,
):
    api = mail_app
    customer, [first] = await sent(api, 1, email="Ann.Lee@Example.com")
    await report(api, first, "BOUNCED", 0, permanent=True)
    assert await suppressed() == [SuppressionReason.HARD_BOUNCE]
    [kept] = await Suppression.all()
    # Only the keyed hash of the normalised address is kept.
    assert kept.address_hash == api.runtime.hasher.digest("email", "ann.lee@example.com")
    assert "ann" not in json.dumps([str(v) for v in kept.__dict__.values()]).lower()
    await Customer.filter(id=raw_id(customer)).delete()

    admin = await admin_token(api)
    for email in ("ann.lee@example.com", "ANN.LEE@EXAMPLE.COM"):
        again = await create_customer(api, admin, email=email)
        [row] = await rows(await send(api, admin, "receipts", again["id"]))
        assert (row.status, row.reason) == (DeliveryStatus.SUPPRESSED, DeliveryReason.NO_ADDRESS)
        assert row.rules[-1]["detail"] == "suppressed: hard bounce"
        await Customer.filter(id=raw_id(again["id"])).delete()
    other = await create_customer(api, admin, email="ann.lee@example.org")
    [row] = await rows(await send(api, admin, "receipts", other["id"]))
    assert row.status is DeliveryStatus.QUEUED


async def test_a_bounce_on_a_suppressed_address_adds_nothing(mail_app):
    api = mail_app
    _, deliveries = await sent(api, 3)
    await report(api, deliveries[0], "BOUNCED", 0, permanent=True)
    await report(api, deliveries[1], "BOUNCED", 1, permanent=True)
    await report(api, deliveries[2], "BOUNCED", 100)
    assert await suppressed() == [SuppressionReason.HARD_BOUNCE]
    assert (await BounceTally.get()).soft_count == 0
