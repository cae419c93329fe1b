"""A digest round never splits one customer's held deliveries into two mails."""

from __future__ import annotations

from datetime import timedelta

from tests.delivery.support import held_digests, rows
from tidings.core.delivery.worker import WorkerOptions
from tidings.core.enums import DeliveryStatus


async def test_a_claim_cut_through_a_customer_hands_the_rest_to_the_next_round(mail_api, smtp):
    api = mail_api
    held, row = await held_digests(api)
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
