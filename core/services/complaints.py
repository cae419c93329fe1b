"""A complaint withdraws marketing consent (issue 12, item 8): an `OnComplaint` for the
feedback recorder.

A recipient who marks a message as spam has said, as plainly as they can, that they do not
want it. Every MARKETING grant of that customer on the delivery's channel that is GRANTED or
PENDING is withdrawn through the ledger's one write path (source `complaint`, evidence
{"deliveryId", "at", "provider"}, recorded by `system:complaint`). Transactional categories
and other channels are untouched. Each withdrawal is decided under the ledger's lock, so a
second complaint (or a replay) withdraws nothing more. The recorder calls this inside the
feedback's own transaction: the event and the withdrawal are kept together or not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tidings.core.enums import CategoryKind, GrantStatus
from tidings.core.models import PermissionState
from tidings.core.models.categories import Category
from tidings.core.models.messages import Delivery
from tidings.core.services import ledger
from tidings.core.services.ledger import LedgerRecord

COMPLAINT_SOURCE = "complaint"
RECORDED_BY = "system:complaint"
# What a complaint withdraws: consent given, or asked for and awaiting confirmation.
WITHDRAWABLE = frozenset({GrantStatus.GRANTED, GrantStatus.PENDING})


async def withdraw_for_complaint(provider: str, delivery: Delivery, at: datetime) -> int:
    """Withdraw the customer's MARKETING grants on the delivery's channel; how many were."""
    marketing = await Category.filter(kind=CategoryKind.MARKETING).values_list("key", flat=True)
    if not marketing:
        return 0
    categories = await PermissionState.filter(
        customer_id=delivery.customer_id,
        channel=delivery.channel,
        category__in=list(marketing),
        status__in=list(WITHDRAWABLE),
    ).values_list("category", flat=True)
    evidence = {"deliveryId": str(delivery.id), "at": at.isoformat(), "provider": provider}
    now = datetime.now(UTC)

    async def decide(state: PermissionState | None) -> LedgerRecord | None:
        if state is None or state.status not in WITHDRAWABLE:
            return None  # withdrawn meanwhile: nothing more to record
        return LedgerRecord(
            GrantStatus.WITHDRAWN,
            COMPLAINT_SOURCE,
            evidence,
            granted_at=state.granted_at,
            withdrawn_at=now,
        )

    withdrawn = 0
    for category in sorted(set(categories)):
        entry = await ledger.append(
            delivery.customer_id, delivery.channel, category, RECORDED_BY, decide
        )
        withdrawn += entry is not None
    return withdrawn
