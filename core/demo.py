"""A small, realistic data set so a newcomer's GraphiQL has something to show, and so every
example in the README does what it says when run on it: the high-value customers hold
email and in-app grants for promotions (the README's `send`) and take order updates in the
app too (its live walkthrough); Amelia Hart and Diego Alvarez have a push device each.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tidings.core.enums import CategoryKind, Frequency, Platform, Role, Tier
from tidings.core.ids import new_id
from tidings.core.models import Category, Customer
from tidings.core.services import Services
from tidings.core.services.categories import CategoryFields
from tidings.core.services.consent import GrantRequest, PreferenceRequest
from tidings.core.services.customers import CustomerFields
from tidings.core.viewer import Viewer, ViewerKind
from tidings.plugins.manager import BUILTIN_CHANNELS

CATEGORIES = [
    ("security", "Security alerts", CategoryKind.TRANSACTIONAL, ["email", "sms"], True, "sms"),
    ("orders", "Order updates", CategoryKind.TRANSACTIONAL, ["email", "push"], False, "email"),
    (
        "promotions",
        "Promotions",
        CategoryKind.MARKETING,
        ["email", "push", "in_app"],
        False,
        None,
    ),
    ("newsletter", "Monthly newsletter", CategoryKind.MARKETING, ["email"], False, None),
]

# What the preference page shows under each category's name.
DESCRIPTIONS = {
    "security": "Sign-ins from a new device and password changes.",
    "orders": "Confirmations, dispatch and delivery of what you ordered.",
    "promotions": "Offers and sales picked for you.",
    "newsletter": "Once a month: new products and stories from our team.",
}

CUSTOMERS = [
    (
        "cust-1001",
        "Amelia Hart",
        "amelia.hart@example.com",
        "+447700900123",
        "en-GB",
        "Europe/London",
        Tier.HIGH_VALUE,
    ),
    (
        "cust-1002",
        "王小明",
        "xiaoming.wang@example.cn",
        "+8613800138000",
        "zh-CN",
        "Asia/Shanghai",
        Tier.HIGH_VALUE,
    ),
    (
        "cust-1003",
        "Diego Alvarez",
        "diego@example.com",
        "+14155550123",
        "en-US",
        "America/Los_Angeles",
        Tier.POTENTIAL,
    ),
    (
        "cust-1004",
        "李娜",
        "li.na@example.cn",
        "+8613900139000",
        "zh-CN",
        "Asia/Shanghai",
        Tier.POTENTIAL,
    ),
    (
        "cust-1005",
        "Priya Natarajan",
        "priya@example.in",
        "+919810012345",
        "en-IN",
        "Asia/Kolkata",
        Tier.ORDINARY,
    ),
    ("cust-1006", "Tom Becker", None, "+4915112345678", "en", "Europe/Berlin", Tier.ORDINARY),
]


# Push registration tokens in FCM's shape; no real device answers to them.
DEVICES = [
    ("cust-1001", Platform.IOS, "demo-fcm-token-amelia-iphone-0001"),
    ("cust-1003", Platform.ANDROID, "demo-fcm-token-diego-pixel-0003"),
]


class DemoRefusedError(Exception):
    """The database holds data of its own: demo customers must never mix with real ones."""


async def load_demo() -> str:
    """Create the demo data unless it is there already; returns a one-line summary.
    Refuses a database that holds other customers (a real database, by all signs)."""
    if await Customer.filter(external_id="cust-1001").exists():
        return "demo data is already loaded"
    if await Customer.exists():
        raise DemoRefusedError(
            "this database already holds customers of its own; demo data is loaded only into "
            "an empty database (use a new TIDINGS_DATABASE_URL)"
        )
    services = Services.build(frozenset(BUILTIN_CHANNELS))
    admin = Viewer(kind=ViewerKind.STAFF, id=new_id(), role=Role.ADMIN)
    for key, name, kind, channels, required, fallback in CATEGORIES:
        if not await Category.filter(key=key).exists():
            await services.categories.create(
                admin,
                CategoryFields(
                    key=key,
                    name=name,
                    description=DESCRIPTIONS[key],
                    kind=kind,
                    default_channels=channels,
                    required=required,
                    fallback_channel=fallback,
                ),
            )
    now = datetime.now(UTC)
    customers = []
    for external_id, name, email, phone, locale, tz, tier in CUSTOMERS:
        customers.append(
            await services.customers.create(
                admin,
                CustomerFields(
                    external_id=external_id,
                    name=name,
                    email=email,
                    phone=phone,
                    locale=locale,
                    timezone=tz,
                    tier=tier,
                    attributes={"plan": tier.value.lower(), "signup_year": 2024},
                ),
            )
        )
    evidence = {"ip": "203.0.113.7", "userAgent": "Mozilla/5.0 (iPhone)", "notice": "v3"}
    for index, customer in enumerate(customers):
        await services.consent.grant(
            admin,
            customer.id,
            GrantRequest("email", "newsletter", "signup_form", evidence=evidence),
        )
        if customer.tier is Tier.HIGH_VALUE:
            # What the README's `send` to HIGH_VALUE and its live walkthrough need.
            for channel in ("email", "in_app"):
                await services.consent.grant(
                    admin,
                    customer.id,
                    GrantRequest(channel, "promotions", "signup_form", evidence=evidence),
                )
        if index % 2 == 0:
            await services.consent.grant(
                admin,
                customer.id,
                GrantRequest(
                    "push",
                    "promotions",
                    "preference_center",
                    evidence=evidence,
                    expires_at=now + timedelta(days=365),
                ),
            )
        if index == 3:
            await services.consent.withdraw(admin, customer.id, "email", "newsletter", "api")
        if customer.tier is Tier.ORDINARY:
            await services.consent.set_preference(
                admin,
                customer.id,
                PreferenceRequest("promotions", ["email"], Frequency.WEEKLY_DIGEST),
            )
        else:
            await services.consent.set_preference(
                admin,
                customer.id,
                PreferenceRequest(
                    "orders",
                    ["push", "email", "in_app"],
                    Frequency.REALTIME,
                    quiet_start="22:00",
                    quiet_end="08:00",
                ),
            )
    by_external_id = {customer.external_id: customer for customer in customers}
    for external_id, platform, token in DEVICES:
        await services.customers.register_device(
            admin, by_external_id[external_id].id, platform, token
        )
    return (
        f"loaded {len(CATEGORIES)} categories and {len(customers)} customers "
        f"with grants, preferences and {len(DEVICES)} devices"
    )
