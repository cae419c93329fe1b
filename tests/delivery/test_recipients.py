"""`load_recipients` reads a customer's encrypted attributes only where `address_keys` says
some hold an address: a plugin's channel is reachable exactly when its attribute holds a
non-empty string, whether or not the attributes were opened."""

from __future__ import annotations

from datetime import UTC, datetime

from tidings.core.delivery.recipients import load_recipients
from tidings.core.models import Customer

CASES = {
    "chat-address": ({"chat": "@ann", "vip": True}, {"email", "in_app", "chat"}),
    "no-address": ({"vip": True, "chat": ""}, {"email", "in_app"}),
    "empty": ({}, {"email", "in_app"}),
}


async def test_attributes_are_opened_only_where_they_hold_an_address(api):
    made = {
        name: await Customer.create(external_id=name, email=f"{name}@example.com", attributes=a)
        for name, (a, _) in CASES.items()
    }
    stored = dict(await Customer.all().values_list("external_id", "address_keys"))
    assert stored == {"chat-address": ["chat"], "no-address": None, "empty": None}

    recipients = await load_recipients([c.id for c in made.values()], "news", datetime.now(UTC))
    assert {name: set(recipients[c.id].addresses) for name, c in made.items()} == {
        name: expected for name, (_, expected) in CASES.items()
    }
