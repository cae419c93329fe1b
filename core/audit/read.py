"""Reading the log: `auditLog` for ADMIN and AUDITOR, and each customer's access log.

Pages are keyset pages over the entry id, newest first, one statement each; every filter
has an index ending in the id ((customer_id, id), (actor_id, id), (action, id)) or on `at`.
Reading the log is itself recorded (`audit.read`, with the filter), so an auditor's searches
are on the record too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tidings.core.audit.log import record
from tidings.core.enums import Role
from tidings.core.errors import ForbiddenError, UserInputError
from tidings.core.models import AuditEntry
from tidings.core.pagination import Page, PageKey, decode_opaque, encode_opaque, paginate_each
from tidings.core.viewer import Viewer

CUSTOMER_READ = "customer.read"


def encode_entry_cursor(entry_id: int) -> str:
    return encode_opaque(b"a:", entry_id.to_bytes(8, "big"))


def decode_entry_cursor(cursor: str | None) -> int | None:
    """The entry id inside a cursor `encode_entry_cursor` made; INVALID_CURSOR otherwise."""
    if cursor is None:
        return None
    return int.from_bytes(decode_opaque(cursor, b"a:", 8), "big")


@dataclass(frozen=True)
class AuditFilter:
    """Which entries: all given conditions hold. `actor_kind` with `actor_id` names one actor
    ("staff", "api_key", "customer"); `start` is inclusive, `end` exclusive."""

    actor_kind: str | None = None
    actor_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    action: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def as_detail(self) -> dict[str, Any]:
        """The filter as `audit.read` records it: ids and times, only what was given."""
        values = {
            "actor_kind": self.actor_kind,
            "actor_id": str(self.actor_id) if self.actor_id else None,
            "customer_id": str(self.customer_id) if self.customer_id else None,
            "action": self.action,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
        }
        return {k: v for k, v in values.items() if v is not None}


class AuditLogService:
    async def list(
        self, viewer: Viewer, first: int, after: str | None, where: AuditFilter
    ) -> Page[AuditEntry]:
        """A page of entries, newest first (ADMIN and AUDITOR); the read is recorded."""
        if not viewer.has_role(Role.ADMIN, Role.AUDITOR):
            raise ForbiddenError("Only ADMIN and AUDITOR read the audit log.")
        after_id = decode_entry_cursor(after)
        query = AuditEntry.all()
        if after_id is not None:
            query = query.filter(id__lt=after_id)
        if where.actor_kind is not None:
            query = query.filter(actor_kind=where.actor_kind)
        if where.actor_id is not None:
            query = query.filter(actor_id=where.actor_id)
        if where.customer_id is not None:
            query = query.filter(customer_id=where.customer_id)
        if where.action is not None:
            query = query.filter(action=where.action)
        if where.start is not None:
            query = query.filter(at__gte=where.start)
        if where.end is not None:
            query = query.filter(at__lt=where.end)
        rows = await query.order_by("-id").limit(first + 1)
        detail: dict[str, Any] = {"filter": where.as_detail(), "first": first}
        if after_id is not None:
            detail["after"] = after_id
        await record("audit.read", actor=viewer.ref, detail=detail)
        return Page(rows[:first], has_next=len(rows) > first, has_previous=after_id is not None)

    async def access_logs(self, keys: Sequence[PageKey]) -> list[Page | UserInputError]:
        """A page of `customer.read` entries per customer, newest first, for a batch of
        customers in one statement per distinct page request. Who may read them is the
        caller's check (`may_read_access_log`)."""
        return await paginate_each(
            lambda ids: AuditEntry.filter(action=CUSTOMER_READ, customer_id__in=ids),
            "customer_id",
            keys,
            newest_first=True,
            decode=decode_entry_cursor,
        )


def may_read_access_log(viewer: Viewer, customer_id: uuid.UUID) -> bool:
    """Who read a customer's data: ADMIN, and the customer itself."""
    if viewer.is_customer:
        return viewer.id == customer_id
    return viewer.has_role(Role.ADMIN)
