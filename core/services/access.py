"""Access grants: a staff member's access to one customer, with actions and an expiry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from tidings.core import validation
from tidings.core.audit import record
from tidings.core.enums import AccessAction, Role
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.live.publisher import LivePublisher
from tidings.core.models import AccessGrant, Customer, Staff
from tidings.core.pagination import Page, paginate
from tidings.core.viewer import Viewer, ViewerKind, active_grants_q


class AccessService:
    def __init__(self, live: LivePublisher | None = None) -> None:
        self.live = live  # revocations end the caller's live streams at once

    async def grant(
        self,
        viewer: Viewer,
        staff_id: uuid.UUID,
        customer_id: uuid.UUID,
        actions: Sequence[AccessAction],
        expires_at: datetime | None,
    ) -> AccessGrant:
        if not viewer.has_role(Role.ADMIN):
            raise ForbiddenError("Only ADMIN grants access.")
        staff = await Staff.filter(id=staff_id).first()
        if staff is None:
            raise NotFoundError("staffId")
        if not await Customer.filter(id=customer_id).exists():
            raise NotFoundError("customerId")
        if not actions:
            raise UserInputError("REQUIRED", "Give at least one action.", "actions")
        expires_at = validation.utc_datetime(expires_at, "expiresAt")
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise UserInputError("IN_THE_PAST", "An access grant must expire later.", "expiresAt")
        async with in_transaction():
            grant = await AccessGrant.create(
                staff=staff,
                customer_id=customer_id,
                actions=sorted({AccessAction(a).value for a in actions}),
                expires_at=expires_at,
                created_by=viewer.ref,
            )
            await record(
                "access_grant.create",
                actor=viewer.ref,
                customer_id=customer_id,
                targets={"grant": str(grant.id), "staff": str(staff.id)},
                detail={"actions": grant.actions, "expires": expires_at is not None},
            )
        return grant

    async def revoke(self, viewer: Viewer, grant_id: uuid.UUID) -> AccessGrant:
        if not viewer.has_role(Role.ADMIN):
            raise ForbiddenError("Only ADMIN revokes access.")
        grant = await AccessGrant.filter(id=grant_id, revoked_at__isnull=True).first()
        if grant is None:
            raise NotFoundError("id")
        grant.revoked_at = datetime.now(UTC)
        async with in_transaction():
            await grant.save(update_fields=["revoked_at"])
            await record(
                "access_grant.revoke",
                actor=viewer.ref,
                customer_id=grant.customer_id,
                targets={"grant": str(grant.id), "staff": str(grant.staff_id)},
            )
        if self.live is not None:  # the agent's streams see with the grants it has left
            await self.live.viewer_revoked(ViewerKind.STAFF.value, grant.staff_id)
        return grant

    async def get(self, viewer: Viewer, grant_id: uuid.UUID) -> AccessGrant | None:
        """One grant, as `list` would show it; None when it is not there for the caller."""
        try:
            query = self._visible(viewer)
        except ForbiddenError:
            return None
        return await query.filter(id=grant_id).first()

    def _visible(self, viewer: Viewer) -> QuerySet[AccessGrant]:
        """Active grants: ADMIN and AUDITOR see all; an agent sees its own."""
        query = AccessGrant.filter(active_grants_q())
        if viewer.has_role(Role.ADMIN, Role.AUDITOR):
            return query
        if viewer.has_role(Role.AGENT):
            return query.filter(staff_id=viewer.id)
        raise ForbiddenError("Only ADMIN, AUDITOR and agents list access grants.")

    async def list(
        self,
        viewer: Viewer,
        first: int,
        after: str | None,
        staff_id: uuid.UUID | None = None,
        customer_id: uuid.UUID | None = None,
    ) -> Page[AccessGrant]:
        """Active grants: ADMIN and AUDITOR see all; an agent sees its own."""
        query = self._visible(viewer)
        if staff_id is not None:
            query = query.filter(staff_id=staff_id)
        if customer_id is not None:
            query = query.filter(customer_id=customer_id)
        return await paginate(query, first, after)
