"""The in-app provider stores each message in the customer's inbox, once per delivery: a
retried batch (a worker killed after storing) gets the ids stored the first time."""

from __future__ import annotations

import uuid

from tidings.core.ids import new_id
from tidings.core.models import Customer
from tidings.core.models.messages import Notification
from tidings.plugins import OutboundMessage
from tidings.providers.in_app import InAppProvider


def _message(customer: Customer, **data: object) -> OutboundMessage:
    return OutboundMessage(
        delivery_id=str(new_id()),
        message_id=str(new_id()),
        channel="in_app",
        category="orders",
        address=str(customer.id),
        title="Shipped « ✓ »",
        body="On its way",
        data=data,
    )


async def test_a_batch_is_stored_once_and_a_retry_gets_the_same_ids(db):
    customer = await Customer.create(external_id=f"c-{uuid.uuid4().hex[:8]}")
    provider = InAppProvider()
    first = [_message(customer, order=1042, items=[{"sku": "A-1"}]), _message(customer)]
    results = await provider.send(first)
    assert all(r.ok for r in results)
    # Retried with one more: the first two keep their notifications, the new one is stored.
    again = [*first, _message(customer, note="déjà vu")]
    retried = await provider.send(again)
    assert [r.provider_id for r in retried[:2]] == [r.provider_id for r in results]
    stored = {
        str(n.delivery_id): n
        for n in await Notification.filter(delivery_id__in=[m.delivery_id for m in again])
    }
    assert len(stored) == 3
    for message, result in zip(again, retried, strict=True):
        note = stored[message.delivery_id]
        assert str(note.id) == result.provider_id
        assert (note.customer_id, note.category, note.title, note.body) == (
            customer.id,
            "orders",
            "Shipped « ✓ »",
            "On its way",
        )
        assert note.data == (dict(message.data) or None)
        assert note.created_at is not None and note.read_at is None
