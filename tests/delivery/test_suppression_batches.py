"""Suppressed addresses are found in the batch that loads recipients, in one statement per
batch whatever its size (a send to a list, a tier expanded in batches), and the list of
suppressions costs the same statements whatever the page size."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest

from tests.conftest import Api, data
from tests.delivery.support import create_category, rows, send
from tests.sql_statements import statement_log
from tidings.core.enums import (
    DeliveryReason,
    DeliveryStatus,
    Role,
    SuppressionReason,
    Tier,
)
from tidings.core.ids import new_id
from tidings.core.models import Customer, Suppression
from tidings.schema.ids import to_global_id


async def customers(api: Api, count: int, tier: Tier = Tier.ORDINARY) -> list[Customer]:
    """`count` customers with an email and a phone; every third one's email is suppressed."""
    made = [
        Customer(
            id=new_id(),
            external_id=f"b-{secrets.token_hex(5)}",
            email=f"c{n}.{secrets.token_hex(3)}@example.com",
            phone=f"+1555{secrets.randbelow(10**7):07d}",
            tier=tier,
        )
        for n in range(count)
    ]
    await Customer.bulk_create(made)
    hasher = api.runtime.hasher
    await Suppression.bulk_create(
        [
            Suppression(
                id=new_id(),
                channel="email",
                address_hash=hasher.digest("email", c.email),
                reason=SuppressionReason.HARD_BOUNCE,
            )
            for c in made[::3]
        ]
    )
    return made


def on_suppressions(log) -> int:
    return sum(1 for table in log.tables() if table == "suppressions")


@pytest.mark.parametrize("size", [4, 40])
async def test_a_send_to_a_list_looks_suppressions_up_once(api, size):
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "notices", "TRANSACTIONAL", defaultChannels=["email"])
    made = await customers(api, size)
    ids = [to_global_id("Customer", c.id) for c in made]
    with statement_log() as log:
        message = await send(api, admin, "notices", {"customerIds": ids})
    assert on_suppressions(log) == 1, log.tables()
    decided = {row.customer_id: row for row in await rows(message)}
    for n, customer in enumerate(made):
        row = decided[customer.id]
        if n % 3 == 0:
            assert (row.status, row.reason) == (
                DeliveryStatus.SUPPRESSED,
                DeliveryReason.NO_ADDRESS,
            )
            assert row.rules[-1]["detail"] == "suppressed: hard bounce"
        else:
            assert row.status is DeliveryStatus.QUEUED


async def test_the_statements_of_a_send_do_not_grow_with_the_list(api):
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "notices", "TRANSACTIONAL", defaultChannels=["email"])
    counts = []
    for size in (3, 30):
        made = await customers(api, size)
        ids = [to_global_id("Customer", c.id) for c in made]
        with statement_log() as log:
            await send(api, admin, "notices", {"customerIds": ids})
        counts.append(len(log.statements))
    assert counts[0] == counts[1]


async def test_a_tier_is_expanded_with_one_suppression_lookup_per_batch(api):
    _, admin = await api.staff(Role.ADMIN)
    await create_category(
        api, admin, "notices", "TRANSACTIONAL", defaultChannels=["email"], fallbackChannel="sms"
    )
    made = await customers(api, 30, Tier.POTENTIAL)
    message = await send(api, admin, "notices", {"tier": "POTENTIAL"})
    with statement_log() as log:
        assert await api.runtime.worker.expand_once(datetime.now(UTC)) == 30
    assert on_suppressions(log) == 1, log.tables()
    channels = {row.customer_id: row.channel for row in await rows(message)}
    assert channels == {c.id: "sms" if n % 3 == 0 else "email" for n, c in enumerate(made)}


LIST = "query($first: Int) { suppressions(first: $first) { nodes { id reason deliveryId } } }"


async def test_listing_suppressions_costs_the_same_whatever_the_page(api):
    _, auditor = await api.staff(Role.AUDITOR)
    await customers(api, 150)  # 50 suppressions
    counts = []
    for first in (5, 50):
        with statement_log() as log:
            nodes = data(await api.gql(LIST, {"first": first}, auditor))["suppressions"]["nodes"]
        assert len(nodes) == first
        counts.append(len(log.statements))
    assert counts[0] == counts[1]
