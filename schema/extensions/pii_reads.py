"""Every read of a customer's personal data goes into the audit log: one `customer.read` entry
per operation and customer, naming the fields read and the operation.

The field gate (`CanReadCustomerPII`) notes each field it lets through; a field it refuses
(FORBIDDEN) is not a read. Notes gather in a collector made per operation (a ContextVar: each
websocket operation runs in a task of its own, while the `Context` is the socket's), and
reach the log in one `record_many`, so a page of 100 customers costs one INSERT, not 100.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextvars import ContextVar

from strawberry.extensions import SchemaExtension

from tidings.core.audit import AuditEvent, record_many

CUSTOMER_READ = "customer.read"


class PiiReads:
    """The personal data fields read in one operation, per customer, in first-read order."""

    def __init__(self) -> None:
        self.fields: dict[uuid.UUID, set[str]] = {}

    def note(self, customer_id: uuid.UUID, field: str) -> None:
        seen = self.fields.get(customer_id)
        if seen is None:
            self.fields[customer_id] = {field}
        else:
            seen.add(field)

    def events(self, operation: str) -> list[AuditEvent]:
        return [
            AuditEvent(
                CUSTOMER_READ,
                customer_id=customer_id,
                detail={"fields": sorted(fields), "operation": operation},
            )
            for customer_id, fields in self.fields.items()
        ]


_reads: ContextVar[PiiReads | None] = ContextVar("tidings_pii_reads", default=None)


def note_pii_read(customer_id: uuid.UUID, field: str) -> None:
    """Called by the field gate for a field it let through; outside an operation that records
    (a schema built without `RecordPiiReads`), nothing."""
    reads = _reads.get()
    if reads is not None:
        reads.note(customer_id, field)


class RecordPiiReads(SchemaExtension):
    """Collect the operation's personal data reads, then append them to the audit log once
    the result is complete (the caller's actor and request come from the request scope)."""

    async def on_execute(self) -> AsyncIterator[None]:
        reads = PiiReads()
        token = _reads.set(reads)
        try:
            yield
        finally:
            _reads.reset(token)
        if reads.fields:
            context = self.execution_context
            operation = context.operation_name or context.operation_type.value
            await record_many(reads.events(operation))
