"""Consent may change between a decision and its send: deferred rows are decided again when
due, and queued rows are checked once more against permission and the customer's channels.
Both answers come from the policy engine (`decide`, `recheck_queued`): nothing here restates
a rule.

Deferred rows released at once compete for the same daily caps, and two workers may hold
rows of one customer. So deferred rows are decided inside a transaction that first locks
their customers (a PostgreSQL advisory lock each; SQLite runs one transaction at a time),
counts, decides, and writes the released rows as QUEUED before it commits: the next worker
to release rows of the same customer counts them.
"""

from __future__ import annotations

import uuid
import zlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from tortoise import connections
from tortoise.transactions import in_transaction

from tidings.core.address_hash import AddressHasher
from tidings.core.delivery.bulk import update_rows
from tidings.core.delivery.claims import is_postgres
from tidings.core.delivery.recipients import load_recipients
from tidings.core.delivery.sending import category_rule
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.enums import DeliveryReason, DeliveryStatus, MessageKind
from tidings.core.models import Category
from tidings.core.models.messages import Delivery, Message
from tidings.core.policy import (
    Decision,
    Recipient,
    after_sending,
    counts_toward_caps,
    decide,
    recheck_queued,
    stored_rules,
)

# Advisory locks in their own key space (the first int), one per customer (the second).
_LOCK_SPACE = 0x7D1C  # "tidings caps"
_LOCK = "SELECT pg_advisory_xact_lock($1::int, k) FROM unnest($2::int[]) AS k ORDER BY k"


async def recheck(
    tiers: TierPolicies,
    deliveries: Sequence[Delivery],
    messages: dict[uuid.UUID, Message],
    categories: dict[str, Category],
    now: datetime,
    *,
    digest_due: bool = False,
    hasher: AddressHasher | None = None,
) -> tuple[list[Delivery], list[Delivery]]:
    """Consent may have changed since the decision: decide deferred rows again, and check
    permission, preference and a suppressed address (`hasher` finds those) on queued ones.
    Returns (to send now, settled otherwise); the settled rows, and the deferred ones
    released, are written here."""
    customers = sorted({d.customer_id for d in deliveries if d.status is DeliveryStatus.DEFERRED})
    if not customers:
        ready, settled, _ = await _recheck(
            tiers, deliveries, messages, categories, now, digest_due=digest_due, hasher=hasher
        )
        return ready, settled
    async with in_transaction():
        await lock_customers(customers)
        ready, settled, released = await _recheck(
            tiers, deliveries, messages, categories, now, digest_due=digest_due, hasher=hasher
        )
        await update_rows(released, ["status", "reason", "rules"])
    return ready, settled


async def lock_customers(customers: Sequence[uuid.UUID]) -> None:
    """Hold each customer's advisory lock until the transaction ends, in one order for all
    workers so that two never wait on each other."""
    if not is_postgres():
        return
    # A checksum of the whole id: ids are time-ordered, so their first bytes are shared.
    keys = sorted({int.from_bytes(zlib.crc32(c.bytes).to_bytes(4), signed=True) for c in customers})
    await connections.get("default").execute_query(_LOCK, [_LOCK_SPACE, keys])


async def _recheck(
    tiers: TierPolicies,
    deliveries: Sequence[Delivery],
    messages: dict[uuid.UUID, Message],
    categories: dict[str, Category],
    now: datetime,
    *,
    digest_due: bool,
    hasher: AddressHasher | None,
) -> tuple[list[Delivery], list[Delivery], list[Delivery]]:
    """(to send now, settled otherwise, released from DEFERRED); the settled rows are
    written here.

    Deferred rows are decided in order against today's counts plus what this batch has
    released before them, so a batch of ten held rows meets a cap of three as ten sends
    would. With `digest_due` a customer's rows on one channel are one message: each is
    decided against the counts before that digest, which then counts once (policy/caps.py).
    """
    ready: list[Delivery] = []
    settled: list[Delivery] = []
    released_rows: list[Delivery] = []
    rules = {key: category_rule(c) for key, c in categories.items()}
    recipients: dict[str, dict[uuid.UUID, Recipient]] = {}
    wanted: dict[str, list[uuid.UUID]] = defaultdict(list)
    for delivery in deliveries:
        wanted[messages[delivery.message_id].category].append(delivery.customer_id)
    for key, customer_ids in wanted.items():
        if key in rules:
            recipients[key] = await load_recipients(customer_ids, key, now, hasher)
    groups: dict[object, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        key = (delivery.customer_id, delivery.channel) if digest_due else delivery.id
        groups[key].append(delivery)
    released: dict[uuid.UUID, list[tuple[str, ...]]] = defaultdict(list)  # this batch's sends
    for group in groups.values():
        in_group: set[str] = set()
        for row in group:
            key = messages[row.message_id].category
            rule = rules.get(key)
            if rule is None:
                _settle(row, DeliveryStatus.FAILED, DeliveryReason.UNKNOWN_CATEGORY)
                settled.append(row)
                continue
            recipient = recipients[key].get(row.customer_id)
            if recipient is None:  # erased since the decision (a leased row erasure left)
                _settle(row, DeliveryStatus.CANCELLED, DeliveryReason.ERASED)
                settled.append(row)
                continue
            decision: Decision
            if messages[row.message_id].kind == MessageKind.CONFIRMATION and not recipient.disabled:
                # The confirmation mail asks for the consent rules 1-2 look for: they do not
                # apply (its rules say so); the address is still found when it is sent. A
                # disabled account's goes on to `recheck_queued`, which stops it.
                ready.append(row)
                continue
            if row.status is DeliveryStatus.DEFERRED:
                for earlier in released.get(row.customer_id, ()):
                    recipient = after_sending(recipient, earlier)
                decision = decide(
                    rule,
                    row.channel,
                    recipient,
                    tiers.for_tier(recipient.tier),
                    now,
                    fallback=False,
                    digest_due=digest_due,
                )
                row.rules = [*row.rules, *stored_rules(decision.rules)]
            else:  # queued rows were counted when decided
                decision = recheck_queued(rule, row.channel, recipient, now)
                if decision.status is not DeliveryStatus.QUEUED:
                    row.rules = [*row.rules, *stored_rules(decision.rules[-1:])]  # what stopped it
            if decision.status is not DeliveryStatus.QUEUED or decision.channel != row.channel:
                _settle(row, decision.status, decision.reason, decision.not_before)
                settled.append(row)
                continue
            if row.status is DeliveryStatus.DEFERRED:
                released_rows.append(row)
                if counts_toward_caps(rule):
                    in_group.add(key)
            row.status = DeliveryStatus.QUEUED
            row.reason = None
            ready.append(row)
        if in_group:
            released[group[0].customer_id].append(tuple(sorted(in_group)))
    if settled:
        await update_rows(
            settled, ["status", "reason", "not_before", "locked_until", "rules", "attempts"]
        )
    return ready, settled, released_rows


def _settle(
    row: Delivery,
    status: DeliveryStatus,
    reason: DeliveryReason | None,
    not_before: datetime | None = None,
) -> None:
    row.status = status
    row.reason = reason
    row.not_before = not_before
    row.locked_until = None
    if status is DeliveryStatus.DEFERRED:
        row.attempts = max(0, row.attempts - 1)  # a deferral is not a delivery attempt
