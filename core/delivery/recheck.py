"""Consent may change between a decision and its send: deferred rows are decided again when
due, and queued rows have their permission and channel preference checked once more."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from tidings.core.delivery.bulk import update_rows
from tidings.core.delivery.recipients import load_recipients
from tidings.core.delivery.sending import category_rule
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.enums import CategoryKind, DeliveryStatus, GrantStatus
from tidings.core.models import Category
from tidings.core.models.messages import Delivery, Message
from tidings.core.policy import Recipient, decide, effective_grant_status


async def recheck(
    tiers: TierPolicies,
    deliveries: Sequence[Delivery],
    messages: dict[uuid.UUID, Message],
    categories: dict[str, Category],
    now: datetime,
    *,
    digest_due: bool = False,
) -> tuple[list[Delivery], list[Delivery]]:
    """Consent may have changed since the decision: decide deferred rows again, and check
    marketing permission on queued ones. Returns (to send now, settled otherwise)."""
    ready: list[Delivery] = []
    settled: list[Delivery] = []
    by_category: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        by_category[messages[delivery.message_id].category].append(delivery)
    for key, rows in by_category.items():
        category = categories.get(key)
        if category is None:
            for row in rows:
                _settle(row, DeliveryStatus.FAILED, "UNKNOWN_CATEGORY")
                settled.append(row)
            continue
        recipients, _ = await load_recipients([r.customer_id for r in rows], key, now)
        rule = category_rule(category)
        for row in rows:
            recipient = recipients.get(row.customer_id)
            if recipient is None:
                _settle(row, DeliveryStatus.SUPPRESSED, "NO_ADDRESS")
                settled.append(row)
                continue
            if row.status is DeliveryStatus.DEFERRED:
                decision = decide(
                    rule,
                    row.channel,
                    recipient,
                    tiers.for_tier(recipient.tier),
                    now,
                    fallback=False,
                    digest_due=digest_due,
                )
                row.rules = [
                    *row.rules,
                    *(
                        {"rule": r.rule, "verdict": r.verdict, "detail": r.detail}
                        for r in decision.rules
                    ),
                ]
                if decision.status is not DeliveryStatus.QUEUED or decision.channel != row.channel:
                    _settle(row, decision.status, decision.reason, decision.not_before)
                    settled.append(row)
                    continue
                row.status = DeliveryStatus.QUEUED
                row.reason = None
            elif category.kind is CategoryKind.MARKETING and not _granted(
                recipient, row.channel, key, now
            ):
                _settle(row, DeliveryStatus.SUPPRESSED, "NO_PERMISSION")
                settled.append(row)
                continue
            elif _opted_out(recipient, row.channel, category.required):
                _settle(row, DeliveryStatus.SUPPRESSED, "OPTED_OUT")
                settled.append(row)
                continue
            ready.append(row)
    if settled:
        await update_rows(
            settled, ["status", "reason", "not_before", "locked_until", "rules", "attempts"]
        )
    return ready, settled


def _opted_out(recipient: Recipient, channel: str, required: bool) -> bool:
    """The customer changed its preference after the decision and left this channel out."""
    preference = recipient.preference
    return (
        not required
        and preference is not None
        and bool(preference.channels)
        and channel not in preference.channels
    )


def _granted(recipient: Recipient, channel: str, category: str, now: datetime) -> bool:
    """The policy's own reading of the grant: GRANTED and not expired."""
    grant = recipient.grants.get((channel, category))
    return effective_grant_status(grant, now) is GrantStatus.GRANTED


def _settle(
    row: Delivery, status: DeliveryStatus, reason: str | None, not_before: datetime | None = None
) -> None:
    row.status = status
    row.reason = reason
    row.not_before = not_before
    row.locked_until = None
    if status is DeliveryStatus.DEFERRED:
        row.attempts = max(0, row.attempts - 1)  # a deferral is not a delivery attempt
