"""A customer holding something in every table that can hold something of theirs, made with
the ORM (fast), and a scan of every table's raw rows for its personal values."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tortoise import connections

from tidings.core.address_hash import AddressHasher
from tidings.core.audit import record
from tidings.core.enums import (
    DeliveryReason,
    DeliveryStatus,
    Frequency,
    GrantStatus,
    Platform,
    Role,
    SuppressionReason,
)
from tidings.core.models import (
    AccessGrant,
    Customer,
    CustomerEvent,
    Delivery,
    DeliveryEvent,
    Device,
    Message,
    Notification,
    PermissionEntry,
    PermissionState,
    Preference,
    Staff,
    Suppression,
)
from tidings.core.services.customers import device_token_hash


@dataclass
class Held:
    customer: Customer
    device_token: str
    deliveries: dict[str, uuid.UUID] = field(default_factory=dict)

    @property
    def personal(self) -> dict[str, str]:
        """Every personal value of the customer, as stored."""
        c = self.customer
        return {
            "name": c.name or "",
            "email": c.email or "",
            "phone": c.phone or "",
            "device token": self.device_token,
            "attribute": c.attributes["note"],
            "chat address": c.attributes["chat"],
            "externalId": c.external_id,
        }


async def held_customer(hasher: AddressHasher, extra: int = 0) -> Held:
    """A customer with a profile, a device, a consent ledger with evidence, a preference,
    deliveries of every kind (with events and errors quoting its address), inbox
    notifications, a conversion, an access grant, an audit entry and a suppressed email.
    `extra`: that many more deliveries, notifications, events and entries of each kind."""
    tag = secrets.token_hex(4)
    customer = await Customer.create(
        external_id=f"ext-erin-{tag}",
        name=f"Erin Uniquename{tag}",
        email=f"erin.{tag}@example.com",
        phone=f"+1415{int(tag, 16) % 10_000_000:07d}",
        attributes={"chat": f"chat-{tag}", "note": f"attr-secret-{tag}"},
    )
    token = f"devtok-{tag}-" + "x" * 40
    held = Held(customer, token)
    await Device.create(
        customer=customer,
        platform=Platform.ANDROID,
        token=token,
        token_hash=device_token_hash(token),
    )
    evidence = {"ip": "203.0.113.9", "form": "footer", "typed": customer.email}
    entries = []
    for n in range(1 + extra):
        entries.append(
            await PermissionEntry.create(
                customer=customer,
                channel="email",
                category="news",
                status=GrantStatus.GRANTED,
                source="signup_form",
                evidence=evidence,
                granted_at=datetime.now(UTC) - timedelta(minutes=n),
                recorded_by="api_key:" + str(uuid.uuid4()),
            )
        )
    await PermissionEntry.create(
        customer=customer,
        channel="chat",
        category="news",
        status=GrantStatus.WITHDRAWN,
        source="preference_center",
        evidence={"userAgent": "test", "handle": customer.attributes["chat"]},
        withdrawn_at=datetime.now(UTC),
        recorded_by=f"customer:{customer.id}",
    )
    await PermissionState.create(
        customer=customer,
        channel="email",
        category="news",
        status=GrantStatus.GRANTED,
        source="signup_form",
        entry_id=entries[0].id,
    )
    await Preference.create(
        customer=customer, category="news", channels=["email"], frequency=Frequency.DAILY_DIGEST
    )
    message = await Message.create(
        category="news",
        status="EXPANDED",
        idempotency_scope="test",
        idempotency_key=f"k-{tag}",
        request_hash="-",
        audience={"customerIds": [str(customer.id)]},
        title="Weekly news",
        body="Hello",
        created_by="system",
    )
    kinds = {
        "sent": (DeliveryStatus.SENT, None),
        "queued": (DeliveryStatus.QUEUED, None),
        "digest": (DeliveryStatus.DEFERRED, DeliveryReason.DIGEST),
        "quiet": (DeliveryStatus.DEFERRED, DeliveryReason.QUIET_HOURS),
        "suppressed": (DeliveryStatus.SUPPRESSED, DeliveryReason.OPTED_OUT),
    }
    for name, (status, reason) in kinds.items():
        row = await Delivery.create(
            message=message,
            customer=customer,
            channel="email",
            status=status,
            reason=reason.value if reason else None,
            last_error=f"550 mailbox {customer.email} unknown" if name == "sent" else None,
            opened_at=datetime.now(UTC) if name == "sent" else None,
            tier="ORDINARY",
        )
        held.deliveries[name] = row.id
    for _ in range(extra):
        row = await Delivery.create(
            message=message,
            customer=customer,
            channel="in_app",
            status=DeliveryStatus.DELIVERED,
            tier="ORDINARY",
        )
        await DeliveryEvent.create(
            delivery=row,
            kind="DELIVERED",
            at=datetime.now(UTC),
            provider="in_app",
            fingerprint=secrets.token_hex(16),
        )
    for n in range(1 + extra):
        await DeliveryEvent.create(
            delivery_id=held.deliveries["sent"],
            kind="BOUNCED",
            at=datetime.now(UTC) + timedelta(seconds=n),
            permanent=False,
            detail=f"soft bounce for {customer.email} ({customer.phone})",
            provider="smtp",
            fingerprint=secrets.token_hex(16),
        )
        await Notification.create(
            customer=customer,
            delivery_id=uuid.uuid4(),
            category="news",
            title=f"Hi {customer.name}",
            body=f"We will call {customer.phone}",
            data={"email": customer.email},
        )
        await CustomerEvent.create(
            customer=customer,
            type="purchase",
            value=Decimal("12.5"),
            currency="EUR",
            occurred_at=datetime.now(UTC),
            idempotency_key=f"order-{tag}-{n}",
            request_hash="-",
            source="api_key:x",
        )
        await record("customer.read", actor="system", customer_id=customer.id)
    agent = await Staff.create(email=f"agent-{tag}@example.com", password_hash="-", role=Role.AGENT)
    await AccessGrant.create(staff=agent, customer=customer, actions=["READ"], created_by="t")
    await Suppression.create(
        channel="email",
        address_hash=hasher.digest("email", customer.email),
        reason=SuppressionReason.HARD_BOUNCE,
        delivery_id=held.deliveries["sent"],
    )
    return held


async def table_names() -> list[str]:
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        _, rows = await conn.execute_query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
        return [r["tablename"] for r in rows]
    _, rows = await conn.execute_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return [r["name"] for r in rows]


async def find_values(values: dict[str, str]) -> list[tuple[str, str]]:
    """(table, what) for each personal value found anywhere, with plain SQL over every row."""
    conn = connections.get("default")
    found = []
    for table in await table_names():
        _, rows = await conn.execute_query(f'SELECT * FROM "{table}"')
        text = "\n".join(repr(tuple(dict(r).values())) for r in rows).lower()
        for what, value in values.items():
            if value and value.lower() in text:
                found.append((table, what))
    return found
