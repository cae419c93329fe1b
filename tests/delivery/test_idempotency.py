"""Idempotency keys under concurrency: racing sends with one key make one message and one set
of deliveries; keys are scoped to the caller."""

from __future__ import annotations

import asyncio

from tests.conftest import data
from tests.delivery.support import SEND, create_category, create_customer, raw_id, rows
from tidings.core.enums import Role
from tidings.core.models.messages import Delivery, ExpansionJob, Message


def send_vars(key: str, to: dict, title: str = "Hello") -> dict:
    return {
        "i": {
            "idempotencyKey": key,
            "category": "receipts",
            "to": to,
            "content": {"title": title, "body": "World"},
        }
    }


async def setup(api, customers: int = 3):
    _, admin = await api.staff(Role.ADMIN)
    await create_category(
        api, admin, "receipts", "TRANSACTIONAL", defaultChannels=["email", "in_app"]
    )
    ids = [
        (await create_customer(api, admin, email=f"c{n}@example.com", tier="POTENTIAL"))["id"]
        for n in range(customers)
    ]
    return admin, ids


async def race(api, token: str, variables: dict, n: int) -> list[dict]:
    results = await asyncio.gather(*(api.gql(SEND, variables, token) for _ in range(n)))
    return [data(result)["send"] for result in results]


async def test_racing_sends_with_one_key_make_one_message(api):
    admin, customers = await setup(api)
    variables = send_vars("race-1", {"customerIds": customers})
    payloads = await race(api, admin, variables, 6)
    assert all(p["errors"] == [] for p in payloads), payloads
    assert len({p["message"]["id"] for p in payloads}) == 1
    assert await Message.all().count() == 1
    deliveries = await rows(payloads[0]["message"])
    assert len(deliveries) == len(customers) * 2
    assert len({(d.customer_id, d.channel) for d in deliveries}) == len(deliveries)

    # The worker delivers each once; asking again later returns the same message, sends nothing.
    assert await api.runtime.worker.run_once() == len(deliveries)
    again = data(await api.gql(SEND, variables, admin))["send"]
    assert again["message"]["id"] == payloads[0]["message"]["id"]
    assert await Delivery.all().count() == len(deliveries)
    assert await api.runtime.worker.run_once() == 0


async def test_racing_tier_sends_with_one_key_make_one_expansion(api):
    admin, _ = await setup(api)
    payloads = await race(api, admin, send_vars("race-tier", {"tier": "POTENTIAL"}), 4)
    assert len({p["message"]["id"] for p in payloads}) == 1
    assert await ExpansionJob.all().count() == 1


async def test_racing_sends_with_one_key_but_different_input_conflict(api):
    admin, customers = await setup(api)
    to = {"customerId": customers[0]}
    results = await asyncio.gather(
        api.gql(SEND, send_vars("race-2", to, "One"), admin),
        api.gql(SEND, send_vars("race-2", to, "Two"), admin),
    )
    payloads = [data(result)["send"] for result in results]
    won = [p for p in payloads if p["message"] is not None]
    lost = [p for p in payloads if p["message"] is None]
    assert len(won) == 1 and len(lost) == 1
    assert [e["code"] for e in lost[0]["errors"]] == ["IDEMPOTENCY_CONFLICT"]
    assert await Message.all().count() == 1
    assert await Delivery.all().count() == 2


async def test_keys_are_scoped_to_the_caller(api):
    admin, customers = await setup(api)
    _, marketer = await api.staff(Role.MARKETER)
    _, other_marketer = await api.staff(Role.MARKETER)
    variables = send_vars("shared-key", {"customerIds": customers})
    results = await asyncio.gather(
        api.gql(SEND, variables, admin),
        api.gql(SEND, variables, marketer),
        api.gql(SEND, variables, other_marketer),
    )
    ids = [data(result)["send"]["message"]["id"] for result in results]
    assert len(set(ids)) == 3
    assert await Message.all().count() == 3
    for message_id in ids:
        assert len(await rows(message_id)) == len(customers) * 2
    scopes = set(await Message.all().values_list("idempotency_scope", flat=True))
    assert len(scopes) == 3
    # Each caller's retry still finds its own.
    again = data(await api.gql(SEND, variables, marketer))["send"]["message"]["id"]
    assert again == ids[1]
    assert raw_id(again) in {raw_id(i) for i in ids}
