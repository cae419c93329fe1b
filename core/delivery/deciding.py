"""Deciding a batch of recipients for one message: the policy inputs loaded in a handful of
queries, each distinct recipient decided once, nothing written (the callers write: the send
service in its transaction, the expansion job a batch at a time)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from tidings.core.address_hash import AddressHasher
from tidings.core.delivery.recipients import load_recipients
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.models import Category
from tidings.core.models.messages import Message
from tidings.core.policy import CategoryRule, Decision, channels_for, decide_channels


def category_rule(category: Category) -> CategoryRule:
    return CategoryRule(
        key=category.key,
        kind=category.kind,
        required=category.required,
        respect_quiet_hours=category.respect_quiet_hours,
        fallback_channel=category.fallback_channel,
        default_channels=tuple(category.default_channels),
    )


async def decide_deliveries(
    message: Message,
    category: Category,
    customer_ids: Sequence[uuid.UUID],
    tiers: TierPolicies,
    now: datetime,
    hasher: AddressHasher | None = None,
) -> tuple[list[tuple[uuid.UUID, Decision]], dict[uuid.UUID, str]]:
    """Decide every recipient × channel, writing nothing: the decisions, and each decided
    customer's tier now (kept on its rows). `hasher`: finds the suppressed addresses
    (core/delivery/suppressed.py); none without."""
    rule = category_rule(category)
    recipients = await load_recipients(customer_ids, category.key, now, hasher)
    decided: list[tuple[uuid.UUID, Decision]] = []
    tiers_now: dict[uuid.UUID, str] = {}
    requested = tuple(message.channels) if message.channels else None
    # Customers alike (same grants, preference, timezone, tier, ...) are decided once.
    alike: dict[tuple, tuple[Decision, ...]] = {}
    for customer_id in customer_ids:
        recipient = recipients.get(customer_id)
        if recipient is None:
            continue  # erased between the request and now
        channels = channels_for(rule, recipient, requested)
        tiers_now[customer_id] = recipient.tier.value
        key = (channels, recipient.decision_inputs())
        decisions = alike.get(key)
        if decisions is None:
            decisions = alike[key] = decide_channels(
                rule, channels, recipient, tiers.for_tier(recipient.tier), now
            )
        decided.extend((customer_id, decision) for decision in decisions)
    return decided, tiers_now
