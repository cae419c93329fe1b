"""write_decided stores exactly the rows the ORM would, whichever way they go: one INSERT for
a small batch, COPY past SMALL_BATCH on PostgreSQL (bulk_create on SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.sql_statements import statement_log
from tidings.core.delivery.bulk import SMALL_BATCH, RulesJson, delivery_row, write_decided
from tidings.core.enums import DeliveryReason, DeliveryStatus, RuleVerdict, Tier
from tidings.core.models import Customer, Delivery, Message
from tidings.core.policy import Decision, RuleOutcome

LATER = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
DECISIONS = (
    Decision("email", DeliveryStatus.QUEUED, None, None, ()),
    Decision(
        "sms",
        DeliveryStatus.DEFERRED,
        DeliveryReason.QUIET_HOURS,
        LATER,
        (RuleOutcome(DeliveryReason.QUIET_HOURS, RuleVerdict.STOP, "until 08:00", "sms"),),
    ),
    Decision(
        "push",
        DeliveryStatus.SUPPRESSED,
        DeliveryReason.NO_ADDRESS,
        None,
        (
            RuleOutcome(DeliveryReason.QUIET_HOURS, RuleVerdict.PASS, None, "push"),
            RuleOutcome(DeliveryReason.NO_ADDRESS, RuleVerdict.STOP, None, "push"),
        ),
    ),
)
COMPARED = (
    "customer_id", "channel", "status", "reason", "rules", "not_before", "attempts",
    "locked_until", "provider", "provider_id", "last_error", "tier",
)  # fmt: skip


async def _message(key: str) -> Message:
    return await Message.create(
        category="receipts", status="EXPANDED", idempotency_scope="t", idempotency_key=key,
        request_hash="-", audience={}, created_by="t",
    )  # fmt: skip


async def _stored(message: Message) -> list[tuple]:
    rows = await Delivery.filter(message_id=message.id).order_by("customer_id", "channel")
    return [tuple(getattr(row, name) for name in COMPARED) for row in rows]


@pytest.mark.parametrize("count", [1, SMALL_BATCH, SMALL_BATCH + 1])
async def test_the_rows_are_those_the_orm_writes(db, count):
    people = [
        await Customer.create(external_id=f"p{i}", tier=Tier.HIGH_VALUE) for i in range(count)
    ]
    decided = [(p.id, DECISIONS[i % len(DECISIONS)]) for i, p in enumerate(people)]
    ours, reference = await _message(f"ours{count}"), await _message(f"ref{count}")
    with statement_log() as log:
        written = await write_decided(
            ours.id, decided, RulesJson(), {p.id: "HIGH_VALUE" for p in people}
        )
    assert written == count
    assert not [s for s in log.statements if "customers" in s]  # the tiers were given
    await Delivery.bulk_create(
        [delivery_row(reference.id, cid, d, "HIGH_VALUE") for cid, d in decided]
    )
    assert await _stored(ours) == await _stored(reference)
    assert len(await _stored(ours)) == count
