"""Disabling a customer's account, and enabling it again (ADMIN).

Disabled: every token issued so far is revoked (the token version moves on, so live sockets
close with 4403), no new one is issued or accepted while disabled (`api/auth.py`), and the
policy engine stops every delivery to it with CUSTOMER_DISABLED, at the decision and again
just before a provider is handed one (`core/policy/model.py: account_stop`). Nothing is
deleted: profile, consent ledger, preferences, messages all stay. Enabled again, tokens
issued from then on work and sends resume; deliveries stopped meanwhile stay stopped.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from tidings.core import audit, validation
from tidings.core.enums import Role
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.live.publisher import LivePublisher
from tidings.core.models import Customer
from tidings.core.viewer import Viewer, ViewerKind

MAX_REASON = 500


class CustomerDisabledError(UserInputError):
    """The operation needs an enabled account (issuing a customer token, say)."""

    def __init__(self, field: str | None = "customerId") -> None:
        super().__init__("CUSTOMER_DISABLED", "The customer's account is disabled.", field)


class CustomerStatus:
    """`disable` and `enable`; each change is one transaction with its audit entry."""

    def __init__(self, live: LivePublisher | None = None) -> None:
        self.live = live

    async def disable(
        self, viewer: Viewer, customer_id: uuid.UUID, reason: str | None = None
    ) -> Customer:
        """Idempotent: disabling a disabled account changes and records nothing. `reason`
        goes to the audit log only, so it must hold no personal data (the docs say so)."""
        _require_admin(viewer)
        cleaned = validation.name(reason, "reason", MAX_REASON) if reason else None
        async with in_transaction():
            customer = await Customer.filter(id=customer_id).select_for_update().first()
            if customer is None:
                raise NotFoundError("customerId")
            if customer.disabled_at is not None:
                return customer
            customer.disabled_at = datetime.now(UTC)
            customer.token_version += 1
            await customer.save(update_fields=["disabled_at", "token_version", "updated_at"])
            await audit.record(
                "customer.disabled",
                actor=viewer.ref,
                customer_id=customer.id,
                detail={"reason": cleaned} if cleaned else None,
            )
        if self.live is not None:
            await self.live.viewer_revoked(ViewerKind.CUSTOMER.value, customer.id)
        return customer

    async def enable(self, viewer: Viewer, customer_id: uuid.UUID) -> Customer:
        """Idempotent like `disable`. Tokens revoked when it was disabled stay revoked."""
        _require_admin(viewer)
        async with in_transaction():
            customer = await Customer.filter(id=customer_id).select_for_update().first()
            if customer is None:
                raise NotFoundError("customerId")
            if customer.disabled_at is None:
                return customer
            customer.disabled_at = None
            await customer.save(update_fields=["disabled_at", "updated_at"])
            await audit.record("customer.enabled", actor=viewer.ref, customer_id=customer.id)
        return customer

    async def token_subject(self, viewer: Viewer, customer_id: uuid.UUID) -> Customer:
        """The customer a new token may be issued for: visible to the caller and enabled."""
        if not viewer.has_role(Role.ADMIN):
            raise ForbiddenError("Only ADMIN issues customer tokens.")
        customer = await Customer.filter(id=customer_id).first()
        if customer is None:
            raise NotFoundError("customerId")
        if customer.disabled_at is not None:
            raise CustomerDisabledError()
        return customer


def _require_admin(viewer: Viewer) -> None:
    if not viewer.has_role(Role.ADMIN):
        raise ForbiddenError("Only ADMIN disables and enables customers.")
