"""A digest round never splits one customer's held deliveries into two mails."""

from __future__ import annotations

from datetime import timedelta

from tests.delivery.support import create_category, create_customer, grant, rows, send
from tidings.core.delivery.worker import WorkerOptions
from tidings.core.enums import DeliveryStatus, Role


async def test_a_claim_cut_through_a_customer_hands_the_rest_to_the_next_round(mail_api, smtp):
    api = mail_api
    _, token = await api.staff(Role.ADMIN)
    await create_category(api, token, "weekly", defaultChannels=["email"])
    # Ordinary customers get marketing as a daily digest (the default tier policy).
    first = await create_customer(api, token, email="a@example.com", timezone="UTC")
    second = await create_customer(api, token, email="b@example.com", timezone="UTC")
    for customer in (first, second):
        await grant(api, token, customer["id"], "weekly")
    held = []
    for n in range(3):
        held.append(await send(api, token, "weekly", first["id"], title=f"A{n}", key=f"a{n}"))
    for n in range(4):
        held.append(await send(api, token, "weekly", second["id"], title=f"B{n}", key=f"b{n}"))
    [row] = await rows(held[0])
    assert (row.status, row.reason) == (DeliveryStatus.DEFERRED, "DIGEST")

    worker = api.runtime.worker
    worker.options = WorkerOptions(batch_size=1)  # a digest claim takes 5 rows at most
    due = row.not_before + timedelta(seconds=1)
    await worker.run_once(now=due)
    await worker.run_once(now=due)
    await worker.run_once(now=due)

    assert sorted(m.rcpt_tos[0] for m in smtp.received) == ["a@example.com", "b@example.com"]
    bodies = {m.rcpt_tos[0]: m.message.get_body(("plain",)).get_content() for m in smtp.received}
    assert all(f"A{n}" in bodies["a@example.com"] for n in range(3))
    assert all(f"B{n}" in bodies["b@example.com"] for n in range(4))
    for message in held:
        [row] = await rows(message)
        assert row.status is DeliveryStatus.SENT
