"""Seeding the audit log, and tampering with it the way someone with database access would:
plain SQL, past the ORM."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tortoise import connections

from tidings.core.audit import GENESIS, entry_hash, record
from tidings.core.models import AuditEntry


async def seed(count: int) -> list[AuditEntry]:
    """`count` entries, one `record` each (so each has a time of its own)."""
    customer = uuid.uuid4()
    for index in range(count):
        await record(
            "customer.read" if index % 2 else "consent.grant",
            actor=f"staff:{uuid.uuid4()}",
            customer_id=customer,
            targets={"grant": str(uuid.uuid4())},
            detail={"fields": ["email"], "n": index},
        )
    return await AuditEntry.all().order_by("id")


async def sql(statement: str) -> None:
    """Run one statement as it is (no parameters: literals only)."""
    await connections.get("default").execute_script(statement)


async def swap_positions(a: int, b: int) -> None:
    """Swap two entries' places in the chain: every column but the id changes hands."""
    await sql(f"UPDATE audit_entries SET id = 999999 WHERE id = {a}")
    await sql(f"UPDATE audit_entries SET id = {a} WHERE id = {b}")
    await sql(f"UPDATE audit_entries SET id = {b} WHERE id = 999999")


async def seed_old(count: int, age: timedelta) -> list[AuditEntry]:
    """`count` entries recorded `age` ago: a valid chain (hashes computed as `record` does),
    written directly because `record` always stamps the present."""
    head = await AuditEntry.all().order_by("-id").first()
    prev_id, prev = (head.id, head.hash) if head else (0, GENESIS)
    at = datetime.now(UTC) - age
    for offset in range(1, count + 1):
        columns = {
            "id": prev_id + offset,
            "at": at + timedelta(seconds=offset),
            "action": "customer.read",
            "actor_kind": "system",
            "actor_id": None,
            "customer_id": None,
            "targets": {},
            "detail": {"fields": ["email"]},
            "request_id": None,
            "ip": None,
            "prev_hash": prev,
        }
        prev = entry_hash(**columns)
        await AuditEntry.create(**columns, hash=prev)
    return await AuditEntry.all().order_by("id")
