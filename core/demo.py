"""A small, realistic data set so a newcomer's GraphiQL has something to show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tidings.core.enums import CategoryKind, Frequency, Role, Tier
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
    ("promotions", "Promotions", CategoryKind.MARKETING, ["email", "push"], False, None),
    ("newsletter", "Monthly newsletter", CategoryKind.MARKETING, ["email"], False, None),
]

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


async def load_demo() -> str:
    """Create the demo data unless it is there already; returns a one-line summary."""
    if await Customer.filter(external_id="cust-1001").exists():
        return "demo data is already loaded"
    services = Services.build(frozenset(BUILTIN_CHANNELS))
    admin = Viewer(kind=ViewerKind.STAFF, id=new_id(), role=Role.ADMIN)
    for key, name, kind, channels, required, fallback in CATEGORIES:
        if not await Category.filter(key=key).exists():
            await services.categories.create(
                admin,
                CategoryFields(
                    key=key,
                    name=name,
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
                    ["push", "email"],
                    Frequency.REALTIME,
                    quiet_start="22:00",
                    quiet_end="08:00",
                ),
            )
    return (
        f"loaded {len(CATEGORIES)} categories and {len(customers)} customers "
        "with grants and preferences"
    )
