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
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from tidings.core.audit import AuditEvent, record_many
from tidings.schema.context import current_event

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
        # Customers read alike share one detail object: the log converts each object once.
        details: dict[frozenset[str], dict] = {}
        events = []
        for customer_id, fields in self.fields.items():
            key = frozenset(fields)
            detail = details.get(key)
            if detail is None:
                detail = details[key] = {"fields": sorted(fields), "operation": operation}
            events.append(AuditEvent(CUSTOMER_READ, customer_id=customer_id, detail=detail))
        return events


_reads: ContextVar[PiiReads | None] = ContextVar("tidings_pii_reads", default=None)


def note_pii_read(customer_id: uuid.UUID, field: str) -> None:
    """Called by the field gate for a field it let through; outside an operation that records
    (a schema built without `RecordPiiReads`), nothing."""
    reads = _reads.get()
    if reads is not None:
        reads.note(customer_id, field)


class RecordPiiReads(SchemaExtension):
    """Collect the operation's personal data reads, then append them to the audit log once
    each result is complete (the caller's actor and request come from the request scope).

    Strawberry makes one instance per operation. A query or mutation has one result; a
    subscription has one per event, each executed after `on_execute` has returned (that hook
    wraps only the subscribing), in the operation's own task: there the collector stays set
    for the task's life, and each event's reads are flushed with its result."""

    def __init__(self, *, execution_context: Any = None) -> None:
        super().__init__(execution_context=execution_context)
        self.reads = PiiReads()

    async def on_execute(self) -> AsyncIterator[None]:
        token = _reads.set(self.reads)
        try:
            yield
        finally:
            if self.execution_context.operation_type is not OperationType.SUBSCRIPTION:
                _reads.reset(token)

    async def get_results(self) -> dict[str, Any]:
        """Called once per result (per event for a subscription): the flush."""
        if self.reads.fields:
            context = self.execution_context
            operation = context.operation_name or context.operation_type.value
            events = self.reads.events(operation)
            self.reads.fields = {}
            shared_frame_reads(events)
            await record_many(events)
        return {}


def shared_frame_reads(events: list[AuditEvent]) -> None:
    """A live event's frame may go to other subscribers unexecuted (`schema.live.stream`):
    keep its reads beside it, so each of them is recorded as reading them too."""
    # Imported here: schema.live's types import the permissions, which import this module.
    from tidings.schema.live.frames import current_operation

    scope, slot = current_event.get(), current_operation.get()
    if scope is not None and slot is not None:
        scope.event.reads[(slot.key, scope.visibility)] = events
