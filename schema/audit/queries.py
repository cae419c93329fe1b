"""auditLog: the tamper-evident log, for ADMIN and AUDITOR."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tidings.core.audit.read import AuditFilter, encode_entry_cursor
from tidings.core.enums import Role
from tidings.schema.audit.types import AuditEntry, AuditLogFilter
from tidings.schema.context import Info
from tidings.schema.permissions import staff_roles
from tidings.schema.relay import After, Connection, First, connection, page_size

AUDIT_READERS = staff_roles(Role.ADMIN, Role.AUDITOR)


@strawberry.type
class AuditQueries:
    @strawberry.field(
        permission_classes=[AUDIT_READERS],
        description="The audit log, newest first (ADMIN and AUDITOR; FORBIDDEN for anyone "
        "else). Reading it is recorded too (`audit.read`, with the filter).",
    )
    async def audit_log(
        self,
        info: Info,
        first: First = 20,
        after: After = None,
        filter: Annotated[
            AuditLogFilter | None, strawberry.argument(description="Which entries.")
        ] = None,
    ) -> Connection[AuditEntry] | None:
        ctx = info.context
        where = filter.to_domain() if filter is not None else AuditFilter()
        page = await ctx.services.audit.list(
            ctx.viewer, page_size(first, ctx.max_page_size), after, where
        )
        return connection(page, AuditEntry.from_model, encode_entry_cursor)
