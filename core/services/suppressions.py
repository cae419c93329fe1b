"""Suppressed addresses for staff: listed by any staff role, lifted by ADMIN with a reason.

Only hashes are kept (core/address_hash.py), so nothing here can name an address. Lifting
keeps the row with who lifted it, when and why: the history stays, and a later bounce of the
same address suppresses it again in a row of its own (core/services/bounces.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from tidings.core import validation
from tidings.core.audit import record
from tidings.core.enums import Role, SuppressionReason
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.models.suppressions import Suppression
from tidings.core.pagination import Page, paginate
from tidings.core.viewer import Viewer

STAFF_ROLES = (Role.ADMIN, Role.MARKETER, Role.AGENT, Role.AUDITOR)
MAX_LIFT_REASON = 500


class SuppressionService:
    async def list(
        self, viewer: Viewer, first: int, after: str | None, channel: str | None = None
    ) -> Page[Suppression]:
        """Suppressions, lifted ones included, newest first; on one channel when given."""
        if not viewer.has_role(*STAFF_ROLES):
            raise ForbiddenError("Only staff list suppressions.")
        query = Suppression.all()
        if channel is not None:
            query = query.filter(channel=channel)
        return await paginate(query, first, after, newest_first=True)

    async def lift(self, viewer: Viewer, suppression_id: uuid.UUID, reason: str) -> Suppression:
        """Let the address be sent to again (ADMIN). The row stays, marked lifted."""
        if not viewer.has_role(Role.ADMIN):
            raise ForbiddenError("Only ADMIN lifts suppressions.")
        why = validation.text(reason, "reason", MAX_LIFT_REASON, required=True)
        async with in_transaction():
            row = await Suppression.filter(id=suppression_id).select_for_update().first()
            if row is None:
                raise NotFoundError("id")
            if row.lifted_at is not None:
                raise UserInputError("ALREADY_LIFTED", "This suppression was lifted already.", "id")
            row.lifted_at = datetime.now(UTC)
            row.lifted_by = viewer.ref
            row.lift_reason = why
            await row.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
            # The reason is free text (it may quote the address): the entry keeps the row's id.
            await record(
                "suppression.lift",
                actor=viewer.ref,
                targets={"suppression": str(row.id)},
                detail={"channel": row.channel, "reason": SuppressionReason(row.reason).value},
            )
        return row
