"""Which of a batch's addresses are suppressed, for the policy engine (rule 3, NO_ADDRESS).

The engine stays pure: the batch that loads recipients hashes each customer's addresses
(core/address_hash.py) and asks for the active suppressions among them in one statement,
whatever the batch's size; each recipient is handed the channels whose address is
suppressed, and why. Only channels with one address per customer can be suppressed: push
(one per device, retired by InvalidAddressError instead) and in_app (the customer itself)
never are.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from tidings.core.address_hash import AddressHasher
from tidings.core.delivery.addresses import address_of
from tidings.core.enums import SuppressionReason
from tidings.core.models.suppressions import Suppression

# Channels whose address is never suppressed.
NEVER_SUPPRESSED = frozenset({"push", "in_app"})

# (customer id, email, phone, attributes) of each customer in the batch.
ContactRow = tuple[uuid.UUID, str | None, str | None, Mapping[str, Any] | None]


def suppressible(
    customer_id: uuid.UUID,
    email: str | None,
    phone: str | None,
    attributes: Mapping[str, Any] | None,
    channels: Collection[str] | None = None,
) -> dict[str, str]:
    """Each suppressible channel of the customer with its address: of `channels` (those a
    provider serves), or when None email, sms and the channels its attributes name."""
    found: dict[str, str] = {}
    candidates = ("email", "sms", *(attributes or {})) if channels is None else sorted(channels)
    for channel in candidates:
        if channel in NEVER_SUPPRESSED or channel in found:
            continue
        address = address_of(channel, customer_id, email, phone, attributes or {})
        if address:
            found[channel] = address
    return found


async def suppressed_channels(
    hasher: AddressHasher, contacts: Sequence[ContactRow]
) -> dict[uuid.UUID, dict[str, SuppressionReason]]:
    """Each customer's suppressed channels and why, for those that have any. One query."""
    wanted: dict[tuple[str, str], list[uuid.UUID]] = {}
    for customer_id, email, phone, attributes in contacts:
        addresses = suppressible(customer_id, email, phone, attributes, hasher.channels)
        for channel, address in addresses.items():
            wanted.setdefault((channel, hasher.digest(channel, address)), []).append(customer_id)
    if not wanted:
        return {}
    rows = await Suppression.filter(
        address_hash__in=sorted({digest for _, digest in wanted}), lifted_at__isnull=True
    ).values_list("channel", "address_hash", "reason")
    found: dict[uuid.UUID, dict[str, SuppressionReason]] = {}
    for channel, digest, reason in rows:
        for customer_id in wanted.get((channel, digest), ()):
            found.setdefault(customer_id, {})[channel] = SuppressionReason(reason)
    return found
