"""Where a customer is reached on a channel: the one rule, used both when a delivery is
decided (which channels have an address) and when it is sent (the address itself).

The built-in channels read the customer's columns (email, E.164 phone, the devices' tokens,
the customer id for the inbox); any other channel reads `attributes[channel]`, a non-empty
string, as CONTRACT.md "Provider plugins" says.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tidings.plugins.manager import BUILTIN_CHANNELS

# (device id, address): the device id is set for push only, whose address is its token.
Target = tuple[uuid.UUID | None, str]


def address_of(
    channel: str,
    customer_id: uuid.UUID,
    email: str | None,
    phone: str | None,
    attributes: Mapping[str, Any],
) -> str | None:
    """The address of a channel with one address per customer (all but push), or None."""
    if channel == "email":
        return email or None
    if channel == "sms":
        return phone or None
    if channel == "in_app":
        return str(customer_id)
    if channel == "push":
        return None  # one per device: see `targets`
    value = attributes.get(channel)
    return value if isinstance(value, str) and value else None


def targets(
    channel: str,
    customer_id: uuid.UUID,
    email: str | None,
    phone: str | None,
    attributes: Mapping[str, Any],
    devices: Sequence[Target],
) -> list[Target]:
    """Every address a delivery on `channel` goes to: one, none, or (push) each device."""
    if channel == "push":
        return list(devices)
    address = address_of(channel, customer_id, email, phone, attributes)
    return [(None, address)] if address else []


def reachable_channels(
    customer_id: uuid.UUID,
    email: str | None,
    phone: str | None,
    has_device: bool,
    attributes: Mapping[str, Any],
) -> frozenset[str]:
    """The channels on which `targets` would find an address: the policy engine's NO_ADDRESS."""
    candidates: Iterable[str] = (*BUILTIN_CHANNELS, *(attributes or {}))
    found = {
        channel
        for channel in candidates
        if address_of(channel, customer_id, email, phone, attributes or {})
    }
    if has_device:
        found.add("push")
    return frozenset(found)
