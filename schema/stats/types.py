"""GraphQL types for the analytics: a row of delivery counts and rates, a row of consent
counts, and the filter. docs/stats.md says what each count and rate means."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from tidings.core.stats.rows import ConsentStatsRow as ConsentRow
from tidings.core.stats.rows import DeliveryStatsRow
from tidings.core.stats.rows import StatsFilter as CoreFilter
from tidings.schema.enums import DeliveryReasonEnum, TierEnum
from tidings.schema.ids import MISSING, parse_id, to_global_id

GROUPED = "null where the rows are not grouped by it, and on the `other` row."


def _rate(over: str) -> str:
    return f"{over}; null when the denominator is 0."


@strawberry.type(
    description="One group of deliveries (a recipient × channel each), counted toward the "
    "day they were created. No row names a customer; groups smaller than "
    "TIDINGS_STATS_MIN_GROUP are folded into the `other` row."
)
class StatsRow:
    category: str | None = strawberry.field(description=f"The category key; {GROUPED}")
    channel: str | None = strawberry.field(description=f"The channel; {GROUPED}")
    tier: TierEnum | None = strawberry.field(description=f"The customer's tier; {GROUPED}")
    day: date | None = strawberry.field(
        description="The day (in the query's time zone) the deliveries were created; null "
        "where not grouped by DAY."
    )
    message_id: strawberry.ID | None = strawberry.field(
        description=f"The message's global ID; {GROUPED}"
    )
    reason: DeliveryReasonEnum | None = strawberry.field(
        description=f"Why suppressed, deferred or failed (null for the others); {GROUPED}"
    )
    other: bool = strawberry.field(
        description="True on the row gathering the groups smaller than "
        "TIDINGS_STATS_MIN_GROUP (one per day when grouped by DAY)."
    )
    attempted: int = strawberry.field(description="Deliveries made, whatever became of them.")
    suppressed: int = strawberry.field(description="Stopped by the policy (no permission, ...).")
    deferred: int = strawberry.field(
        description="Waiting (quiet hours, digest, frequency cap) at the time of asking."
    )
    sent: int = strawberry.field(
        description="Handed to a provider: sent, delivered, bounced or complained."
    )
    delivered: int = strawberry.field(
        description="Confirmed delivered; where receiptsReported is false, sent and neither "
        "bounced nor failed."
    )
    failed: int = strawberry.field(description="Failed for good (no provider took it).")
    bounced: int = strawberry.field(description="Sent, then bounced.")
    complained: int = strawberry.field(description="Delivered, then reported as spam.")
    opened: int = strawberry.field(description="Opened (or clicked: a click implies an open).")
    clicked: int = strawberry.field(description="Clicked.")
    converted: int = strawberry.field(
        description="Credited with a customer event (`recordEvent`) by attribution."
    )
    revenue: str = strawberry.field(
        description="The value of the conversions credited, as a decimal string without trailing "
        'zeros ("12.5", "0"). Values add up as recorded, whatever their currency.'
    )
    unsubscribed: int = strawberry.field(
        description="Followed by a withdrawal through the message's own one-click "
        "unsubscribe link, or answered by a STOP reply (the customer's latest marketing text "
        "in the week before it)."
    )
    delivery_rate: float | None = strawberry.field(description=_rate("delivered / sent"))
    bounce_rate: float | None = strawberry.field(description=_rate("bounced / sent"))
    open_rate: float | None = strawberry.field(description=_rate("opened / delivered"))
    click_rate: float | None = strawberry.field(description=_rate("clicked / delivered"))
    conversion_rate: float | None = strawberry.field(description=_rate("converted / delivered"))
    unsubscribe_rate: float | None = strawberry.field(description=_rate("unsubscribed / delivered"))
    complaint_rate: float | None = strawberry.field(description=_rate("complained / delivered"))
    click_to_open_rate: float | None = strawberry.field(description=_rate("clicked / opened"))
    receipts_reported: bool = strawberry.field(
        description="False when a channel in the row has no provider reporting delivery "
        "receipts (SMTP, FCM): its sent deliveries count as delivered unless they bounced or "
        "failed."
    )

    @classmethod
    def from_row(cls, row: DeliveryStatsRow) -> StatsRow:
        return cls(
            category=row.category,
            channel=row.channel,
            tier=row.tier,
            day=row.day,
            message_id=to_global_id("Message", row.message_id) if row.message_id else None,
            reason=row.reason,
            other=row.other,
            attempted=row.attempted,
            suppressed=row.suppressed,
            deferred=row.deferred,
            sent=row.sent,
            delivered=row.delivered,
            failed=row.failed,
            bounced=row.bounced,
            complained=row.complained,
            opened=row.opened,
            clicked=row.clicked,
            converted=row.converted,
            revenue=decimal_text(row.revenue),
            unsubscribed=row.unsubscribed,
            delivery_rate=row.delivery_rate,
            bounce_rate=row.bounce_rate,
            open_rate=row.open_rate,
            click_rate=row.click_rate,
            conversion_rate=row.conversion_rate,
            unsubscribe_rate=row.unsubscribe_rate,
            complaint_rate=row.complaint_rate,
            click_to_open_rate=row.click_to_open_rate,
            receipts_reported=row.receipts_reported,
        )


@strawberry.input(description="Only deliveries matching every list given (each at most 100).")
class StatsFilter:
    categories: list[str] | None = strawberry.field(default=None, description="Category keys.")
    channels: list[str] | None = strawberry.field(default=None, description="Channel names.")
    tiers: list[TierEnum] | None = strawberry.field(default=None, description="Tiers.")
    message_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Messages' global IDs."
    )
    reasons: list[DeliveryReasonEnum] | None = strawberry.field(
        default=None, description="Reasons (suppressed, deferred or failed deliveries)."
    )

    def to_core(self) -> CoreFilter:
        def listed(values: list | None) -> tuple | None:
            return None if values is None else tuple(values)

        ids = self.message_ids
        return CoreFilter(
            categories=listed(self.categories),
            channels=listed(self.channels),
            tiers=listed(self.tiers),
            # An ID that names no message matches nothing (MISSING), like an unknown key.
            message_ids=None
            if ids is None
            else tuple(parse_id(i, "Message") or MISSING for i in ids),
            reasons=listed(self.reasons),
        )


@strawberry.type(description="Withdrawals made through one source in the period.")
class WithdrawalCount:
    source: str = strawberry.field(
        description='The ledger source: "preference_center", "one_click_unsubscribe", '
        '"sms_stop", "complaint", "api", ...'
    )
    count: int = strawberry.field(description="How many withdrawals.")


@strawberry.type(
    description="One group of customer × category × channel pairs and where their permission "
    "stood at `asOf`. No row names a customer; groups of fewer pairs than "
    "TIDINGS_STATS_MIN_GROUP are folded into the `other` row."
)
class ConsentStatsRow:
    category: str | None = strawberry.field(description=f"The category key; {GROUPED}")
    channel: str | None = strawberry.field(description=f"The channel; {GROUPED}")
    tier: TierEnum | None = strawberry.field(
        description=f"The customer's tier (as it is now); {GROUPED}"
    )
    other: bool = strawberry.field(
        description="True on the row gathering the groups smaller than TIDINGS_STATS_MIN_GROUP."
    )
    customers: int = strawberry.field(description="The pairs in the group.")
    reachable: int = strawberry.field(
        description="Granted, and the customer has an address (email, phone, a device) for "
        "the channel now."
    )
    granted: int = strawberry.field(description="Granted and not expired at asOf.")
    withdrawn: int = strawberry.field(description="Withdrawn at asOf.")
    expired: int = strawberry.field(description="Granted once, expired by asOf.")
    pending: int = strawberry.field(description="Waiting for the customer to confirm (email).")
    never_asked: int = strawberry.field(description="No ledger entry by asOf.")
    expiring_soon: int = strawberry.field(
        description="Granted, and expiring within the 30 days after asOf."
    )
    opt_in_rate: float | None = strawberry.field(
        description="granted / customers; null when the group is empty."
    )
    withdrawals: list[WithdrawalCount] = strawberry.field(
        description="Withdrawals recorded in [since, asOf), by source, most first."
    )

    @classmethod
    def from_row(cls, row: ConsentRow) -> ConsentStatsRow:
        return cls(
            category=row.category,
            channel=row.channel,
            tier=row.tier,
            other=row.other,
            customers=row.customers,
            reachable=row.reachable,
            granted=row.granted,
            withdrawn=row.withdrawn,
            expired=row.expired,
            pending=row.pending,
            never_asked=row.never_asked,
            expiring_soon=row.expiring_soon,
            opt_in_rate=row.opt_in_rate,
            withdrawals=[
                WithdrawalCount(source=source, count=count)
                for source, count in sorted(row.withdrawals.items(), key=lambda i: (-i[1], i[0]))
            ],
        )


def decimal_text(value: Decimal) -> str:
    """A sum as plain digits, without trailing zeros or an exponent: "42.5", "0", "100"."""
    return format(value.normalize(), "f") if value else "0"
