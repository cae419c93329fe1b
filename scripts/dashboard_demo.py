"""Demo-like history for the dashboard's screenshots (scripts/screenshots.py): a few hundred
customers with their consent, and 30 days of messages whose deliveries were sent, delivered,
opened, clicked, converted, bounced and unsubscribed at plausible rates. Deterministic (a
seeded random), written straight to the tables the stats count (their triggers keep the
rollups), on the throw-away database the screenshots use only."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tidings.core.enums import DeliveryStatus, MessageStatus, Role, Tier
from tidings.core.models import Customer
from tidings.core.models.messages import Delivery, Message
from tidings.core.services import Services
from tidings.core.services.consent import GrantRequest
from tidings.core.viewer import Viewer, ViewerKind

STAFF_EMAIL = "marketing@example.com"
STAFF_PASSWORD = "screenshots only, not a real password"
CUSTOMERS = 240
DAYS = 30
# category → (channels, per-day audience share, open, click, convert rates)
PLAN = {
    "promotions": (("email", "push", "in_app"), 0.5, 0.32, 0.09, 0.025),
    "newsletter": (("email",), 0.15, 0.41, 0.12, 0.01),
    "orders": (("email", "push"), 0.2, 0.62, 0.2, 0.0),
    "security": (("email", "sms"), 0.03, 0.7, 0.05, 0.0),
}
# category, channel → share of customers who granted it
CONSENT = {
    ("promotions", "email"): 0.62,
    ("promotions", "push"): 0.38,
    ("promotions", "in_app"): 0.71,
    ("newsletter", "email"): 0.55,
}
TIERS = (Tier.HIGH_VALUE, Tier.POTENTIAL, Tier.ORDINARY, Tier.ORDINARY)


async def load_history(services: Services) -> None:
    rng = random.Random(13)  # noqa: S311 (demo data, not a secret)
    admin = Viewer(kind=ViewerKind.STAFF, id=uuid.uuid4(), role=Role.ADMIN)
    await services.staff.create(STAFF_EMAIL, STAFF_PASSWORD, Role.MARKETER)
    customers = []
    for n in range(CUSTOMERS):
        customer = await Customer.create(
            external_id=f"shot-{n:04d}",
            name=f"Customer {n}",
            email=f"customer{n}@example.com",
            phone=f"+4477009{n:05d}",
            tier=TIERS[n % len(TIERS)],
        )
        customers.append(customer)
        for (category, channel), share in CONSENT.items():
            if rng.random() < share:
                await services.consent.grant(
                    admin, customer.id, GrantRequest(channel, category, "signup_form")
                )
                if rng.random() < 0.08:
                    await services.consent.withdraw(
                        admin, customer.id, channel, category, "preference_center"
                    )
    today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    for back in range(DAYS, -1, -1):
        day = today - timedelta(days=back)
        trend = 1 + 0.25 * ((DAYS - back) / DAYS)  # engagement improves over the month
        for category, (channels, share, opens, clicks, converts) in PLAN.items():
            at = day + timedelta(minutes=rng.randrange(0, 600, 15))
            if at > datetime.now(UTC):
                at = datetime.now(UTC) - timedelta(minutes=5)
            message = await Message.create(
                category=category,
                status=MessageStatus.EXPANDED,
                idempotency_scope="staff:demo",
                idempotency_key=f"{category}-{back}",
                request_hash="0" * 64,
                audience={"tier": None},
                created_by="staff:demo",
                created_at=at,
            )
            rows = []
            for customer in customers:
                if rng.random() > share:
                    continue
                channel = rng.choice(channels)
                rates = (trend * opens, trend * clicks, converts / max(clicks, 0.01))
                rows.append(_delivery(rng, message, customer, channel, at, rates))
            await Delivery.bulk_create(rows)


def _delivery(
    rng: random.Random,
    message: Message,
    customer: Customer,
    channel: str,
    at: datetime,
    rates: tuple[float, float, float],
) -> Delivery:
    """One delivery; `rates`: open (of delivered), click (of delivered), convert (of clicked)."""
    opens, clicks, converts = rates
    status = DeliveryStatus.DELIVERED
    roll = rng.random()
    if roll < 0.06:
        status = DeliveryStatus.SUPPRESSED
    elif roll < 0.08:
        status = DeliveryStatus.FAILED
    elif roll < 0.1 and channel == "email":
        status = DeliveryStatus.BOUNCED
    elif roll < 0.1015 and channel == "email":
        status = DeliveryStatus.COMPLAINED
    delivered = status in (DeliveryStatus.DELIVERED, DeliveryStatus.COMPLAINED)
    opened = delivered and rng.random() < opens
    clicked = opened and rng.random() < clicks / max(opens, 0.01)
    converted = clicked and rng.random() < converts
    later = at + timedelta(hours=rng.randint(1, 30))
    return Delivery(
        message=message,
        customer=customer,
        channel=channel,
        status=status,
        tier=customer.tier.value,
        attempts=0 if status is DeliveryStatus.SUPPRESSED else 1,
        delivered_at=at if delivered else None,
        opened_at=later if opened else None,
        clicked_at=later if clicked else None,
        converted_at=later if converted else None,
        revenue=Decimal(rng.randint(20, 400)) if converted else None,
        unsubscribed_at=later if delivered and rng.random() < 0.006 else None,
        created_at=at,
    )
