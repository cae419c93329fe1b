"""Bounces suppress addresses (issue 12, item 7): an `OnBounce` for the feedback recorder.

- A hard bounce (permanent) suppresses the address on the delivery's channel at once.
- Soft bounces suppress it once there are three at least, the first and the last 72 hours
  apart or more, with no delivery between them. The run is kept per address and channel
  (`BounceTally`); a delivery that arrived between the run's first bounce and this one
  (the customer's delivery on the channel with a receipt in between) starts it again.

The address is the customer's current one for the channel, hashed (core/address_hash.py):
only the hash is stored, so the suppression outlives the customer and stops a re-imported
one. Push and in_app are never suppressed (core/delivery/suppressed.py). The recorder calls
this inside the feedback's own transaction, for a feedback recorded anew only, so a replayed
bounce counts once. Concurrent bounces of one address queue on its tally row's lock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tidings.core.address_hash import AddressHasher
from tidings.core.audit import record
from tidings.core.delivery.suppressed import suppressible
from tidings.core.enums import SuppressionReason
from tidings.core.models import Customer
from tidings.core.models.messages import Delivery
from tidings.core.models.suppressions import BounceTally, Suppression

SOFT_BOUNCES = 3
SOFT_SPAN = timedelta(hours=72)


class BounceSuppressor:
    """Applies one newly recorded bounce to its address's suppression."""

    def __init__(self, hasher: AddressHasher) -> None:
        self.hasher = hasher

    def __repr__(self) -> str:
        return "<BounceSuppressor>"

    async def __call__(
        self, provider: str, delivery: Delivery, permanent: bool, at: datetime
    ) -> Suppression | None:
        """The suppression this bounce made, or None (counted only, or nothing to do)."""
        contact = await Customer.filter(id=delivery.customer_id).first()
        if contact is None:
            return None
        address = suppressible(
            contact.id, contact.email, contact.phone, contact.attributes, [delivery.channel]
        ).get(delivery.channel)
        if address is None:
            return None
        digest = self.hasher.digest(delivery.channel, address)
        tally = await _locked_tally(delivery.channel, digest)
        if await Suppression.filter(
            channel=delivery.channel, address_hash=digest, lifted_at__isnull=True
        ).exists():
            return None  # suppressed already: nothing more to count
        at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        if permanent:
            return await _suppress(tally, SuppressionReason.HARD_BOUNCE, delivery, provider)
        first, last = _aware(tally.first_at), _aware(tally.last_at)
        if tally.soft_count and first and last:
            if await _delivered_between(delivery, min(first, at), max(last, at)):
                tally.soft_count, first, last = 0, None, None
        tally.soft_count += 1
        tally.first_at = at if first is None else min(first, at)
        tally.last_at = at if last is None else max(last, at)
        if tally.soft_count >= SOFT_BOUNCES and tally.last_at - tally.first_at >= SOFT_SPAN:
            return await _suppress(tally, SuppressionReason.SOFT_BOUNCES, delivery, provider)
        await tally.save(update_fields=["soft_count", "first_at", "last_at", "updated_at"])
        return None


async def _locked_tally(channel: str, digest: str) -> BounceTally:
    """The address's tally row, created when missing, locked until the transaction ends."""
    await BounceTally.bulk_create(
        [BounceTally(channel=channel, address_hash=digest)], ignore_conflicts=True
    )
    return await BounceTally.filter(channel=channel, address_hash=digest).select_for_update().get()


async def _suppress(
    tally: BounceTally, reason: SuppressionReason, delivery: Delivery, provider: str
) -> Suppression:
    """Suppress the address, and start its run of soft bounces afresh (for after a lift)."""
    tally.soft_count, tally.first_at, tally.last_at = 0, None, None
    await tally.save(update_fields=["soft_count", "first_at", "last_at", "updated_at"])
    row = await Suppression.create(
        channel=tally.channel,
        address_hash=tally.address_hash,
        reason=reason,
        delivery_id=delivery.id,
        provider=provider,
    )
    await record(
        "suppression.add",
        actor="system",
        customer_id=delivery.customer_id,
        targets={"suppression": str(row.id), "delivery": str(delivery.id)},
        detail={"channel": tally.channel, "reason": reason.value, "provider": provider},
    )
    return row


async def _delivered_between(bounced: Delivery, start: datetime, end: datetime) -> bool:
    """Whether a delivery of the customer on the channel arrived between two bounces."""
    return (
        await Delivery.filter(
            customer_id=bounced.customer_id,
            channel=bounced.channel,
            delivered_at__gt=start,
            delivered_at__lt=end,
        )
        .exclude(id=bounced.id)
        .exists()
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
