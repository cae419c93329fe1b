"""The tamper-evident audit log: who did or read what, hash-chained so that a changed, removed
or reordered entry is detected (`tidings audit verify`).

Services record through `record` / `record_many`; the request's actor, id and client address
come from `current_request()`, set once per HTTP request or websocket operation.
"""

from tidings.core.audit.chain import GENESIS, entry_hash
from tidings.core.audit.context import RequestInfo, current_request, request_scope
from tidings.core.audit.log import AuditEvent, record, record_many

__all__ = [
    "GENESIS",
    "AuditEvent",
    "RequestInfo",
    "current_request",
    "entry_hash",
    "record",
    "record_many",
    "request_scope",
]
