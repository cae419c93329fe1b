"""GraphQL types of the audit log: entries as ids and what happened, never objects (an entry
outlives what it names)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from tidings.core.audit.read import AuditFilter
from tidings.core.errors import UserInputError
from tidings.core.models import AuditEntry as AuditEntryModel
from tidings.schema.ids import decode_global_id, from_global_id, to_global_id

# How an actor kind is named as a GraphQL type, and back.
ACTOR_TYPES = {"staff": "Staff", "api_key": "ApiKey", "customer": "Customer"}
ACTOR_KINDS = {type_name: kind for kind, type_name in ACTOR_TYPES.items()}


def actor_global_id(kind: str, actor_id: uuid.UUID | None) -> strawberry.ID | None:
    type_name = ACTOR_TYPES.get(kind)
    if type_name is None or actor_id is None:
        return None
    return to_global_id(type_name, actor_id)


@strawberry.type(
    description="One entry of the tamper-evident audit log: who did or read what, when, from "
    "where. It holds ids, never a personal data value or message content. `hash` is SHA-256 "
    "over the entry's columns and `prevHash` (docs/audit.md); `tidings audit verify` checks "
    "the chain."
)
class AuditEntry:
    id: strawberry.ID = strawberry.field(
        description="The entry's position in the chain (a number, as a string): gapless."
    )
    at: datetime = strawberry.field(description="When it was recorded.")
    action: str = strawberry.field(
        description='What happened, dotted lower-case: "customer.read", "consent.grant", '
        '"audit.prune", ... (docs/audit.md lists them).'
    )
    actor_kind: str = strawberry.field(
        description='Who acted: "staff", "api_key", "customer" or "system".'
    )
    actor_id: strawberry.ID | None = strawberry.field(
        description="The global ID of the Staff member, ApiKey or Customer who acted; null for "
        '"system". It may name something deleted since.'
    )
    customer_id: strawberry.ID | None = strawberry.field(
        description="The global ID of the Customer the entry is about, if any."
    )
    targets: JSON = strawberry.field(
        description='Other ids the entry is about, e.g. {"message": "<uuid>"}.'
    )
    detail: JSON = strawberry.field(
        description='What happened, without personal data values, e.g. {"fields": ["email"], '
        '"operation": "GetCustomer"}.'
    )
    request_id: str | None = strawberry.field(
        description="The request it was recorded in (null outside a request: the worker, a "
        "command); the entries of one request share it."
    )
    ip: str | None = strawberry.field(description="The client address of that request.")
    hash: str = strawberry.field(description="This entry's hash (64 hex digits).")
    prev_hash: str = strawberry.field(
        description="The previous entry's hash; 64 zeros for the first entry ever written."
    )

    @classmethod
    def from_model(cls, row: AuditEntryModel) -> AuditEntry:
        return cls(
            id=strawberry.ID(str(row.id)),
            at=row.at,
            action=row.action,
            actor_kind=row.actor_kind,
            actor_id=actor_global_id(row.actor_kind, row.actor_id),
            customer_id=to_global_id("Customer", row.customer_id) if row.customer_id else None,
            targets=row.targets,
            detail=row.detail,
            request_id=row.request_id,
            ip=row.ip,
            hash=row.hash,
            prev_hash=row.prev_hash,
        )


@strawberry.type(
    description="One read of a customer's personal data: who read it, when, which fields, "
    "through which operation."
)
class AccessLogEntry:
    at: datetime = strawberry.field(description="When it was read.")
    actor_kind: str = strawberry.field(
        description='Who read it: "staff", "api_key", "customer" (the customer itself) or "system".'
    )
    actor_id: strawberry.ID | None = strawberry.field(
        description="The global ID of the Staff member, ApiKey or Customer who read it."
    )
    fields: list[str] = strawberry.field(description='The fields read, e.g. ["email", "phone"].')
    operation: str | None = strawberry.field(
        description="The GraphQL operation (or other route) it was read through, if named."
    )

    @classmethod
    def from_model(cls, row: AuditEntryModel) -> AccessLogEntry:
        detail: dict[str, Any] = row.detail if isinstance(row.detail, dict) else {}
        fields = detail.get("fields")
        operation = detail.get("operation")
        return cls(
            at=row.at,
            actor_kind=row.actor_kind,
            actor_id=actor_global_id(row.actor_kind, row.actor_id),
            fields=[str(f) for f in fields] if isinstance(fields, list) else [],
            operation=str(operation) if operation is not None else None,
        )


@strawberry.input(description="Which audit entries: every condition given must hold.")
class AuditLogFilter:
    actor_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only entries by this actor: the global ID of a Staff member, an ApiKey or "
        "a Customer.",
    )
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only entries about this Customer (its global ID)."
    )
    action: str | None = strawberry.field(
        default=None, description='Only this action, e.g. "customer.read".'
    )
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Only entries recorded at or after this time."
    )
    to: datetime | None = strawberry.field(
        default=None, description="Only entries recorded before this time."
    )

    def to_domain(self) -> AuditFilter:
        """The filter with its ids decoded; INVALID_ID names a bad one."""
        kind, actor = None, None
        if self.actor_id is not None:
            decoded = decode_global_id(self.actor_id)
            if decoded is None or decoded[0] not in ACTOR_KINDS:
                raise UserInputError(
                    "INVALID_ID",
                    "actorId must be the ID of a Staff member, an ApiKey or a Customer.",
                    "filter.actorId",
                )
            kind, actor = ACTOR_KINDS[decoded[0]], decoded[1]
        customer = None
        if self.customer_id is not None:
            customer = from_global_id(self.customer_id, "Customer")
            if customer is None:
                raise UserInputError(
                    "INVALID_ID", "customerId must be the ID of a Customer.", "filter.customerId"
                )
        if self.from_ and self.to and self.from_ >= self.to:
            raise UserInputError("INVALID_RANGE", "`from` must be before `to`.", "filter.from")
        return AuditFilter(kind, actor, customer, self.action, self.from_, self.to)
