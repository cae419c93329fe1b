"""Who is calling, and the domain's rules on what they may see.

The schema's permission classes and the services ask these questions; the answers live here
so that HTTP, websockets and (later) the audit log apply one rule set.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum

from tortoise.expressions import Q

from tidings.core.enums import AccessAction, Role
from tidings.core.models import AccessGrant


class ViewerKind(str, Enum):
    STAFF = "staff"
    CUSTOMER = "customer"
    API_KEY = "api_key"


@dataclass
class Viewer:
    """An authenticated caller. Built once per request (per event for subscriptions)."""

    kind: ViewerKind
    id: uuid.UUID
    role: Role | None = None  # None for customers
    # From the token, for re-checking a long-lived caller (a websocket) later on.
    token_version: int | None = None
    expires_at: int | None = None
    # An API key's scopes (core/scopes.py); None: the role's full power.
    scopes: frozenset[str] | None = None
    _access: dict[uuid.UUID, frozenset[AccessAction]] | None = field(default=None, repr=False)

    @property
    def ref(self) -> str:
        """How the ledger names this caller: "staff:<id>", "api_key:<id>", "customer:<id>"."""
        return f"{self.kind.value}:{self.id}"

    @property
    def is_customer(self) -> bool:
        return self.kind is ViewerKind.CUSTOMER

    def has_role(self, *roles: Role) -> bool:
        return self.role is not None and self.role in roles

    async def access(self) -> dict[uuid.UUID, frozenset[AccessAction]]:
        """An agent's unexpired, unrevoked access grants: customer id → actions. One query."""
        if self._access is None:
            # Filled only once complete: sibling resolvers run concurrently, and one of them
            # must not read a half-built (empty) map while another awaits the query.
            access: dict[uuid.UUID, frozenset[AccessAction]] = {}
            if self.kind is ViewerKind.STAFF and self.role is Role.AGENT:
                rows = await AccessGrant.filter(active_grants_q(), staff_id=self.id).values_list(
                    "customer_id", "actions"
                )
                merged: dict[uuid.UUID, set[AccessAction]] = {}
                for customer_id, actions in rows:
                    merged.setdefault(customer_id, set()).update(AccessAction(a) for a in actions)
                access = {k: frozenset(v) for k, v in merged.items()}
            self._access = access
        return self._access


def active_grants_q(now: datetime | None = None) -> Q:
    now = now or datetime.now(UTC)
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


async def can_see_customer(viewer: Viewer, customer_id: uuid.UUID) -> bool:
    """Whether the customer exists for this caller at all."""
    if viewer.is_customer:
        return viewer.id == customer_id
    if viewer.has_role(Role.ADMIN, Role.MARKETER, Role.AUDITOR):
        return True
    if viewer.has_role(Role.AGENT):
        return customer_id in await viewer.access()
    return False


async def can_read_pii(viewer: Viewer, customer_id: uuid.UUID) -> bool:
    """Email, phone and devices: the customer itself, ADMIN, or an AGENT with a READ grant."""
    if viewer.has_role(Role.AGENT):
        await viewer.access()
    return pii_readable(viewer, customer_id)


def pii_readable(viewer: Viewer, customer_id: uuid.UUID) -> bool:
    """`can_read_pii` without I/O, for hot field checks: an agent's grants must be loaded
    already (`await viewer.access()`); when they are not, the answer is no."""
    if viewer.is_customer:
        return viewer.id == customer_id
    if viewer.has_role(Role.ADMIN):
        return True
    if viewer.has_role(Role.AGENT) and viewer._access is not None:
        return AccessAction.READ in viewer._access.get(customer_id, frozenset())
    return False


async def visible_customers_q(viewer: Viewer) -> Q | None:
    """A filter restricting customers to those the caller may see; None means none at all."""
    if viewer.is_customer:
        return Q(id=viewer.id)
    if viewer.has_role(Role.ADMIN, Role.MARKETER, Role.AUDITOR):
        return Q()
    if viewer.has_role(Role.AGENT):
        ids = list(await viewer.access())
        return Q(id__in=ids) if ids else None
    return None


async def may_record_consent(viewer: Viewer, customer_id: uuid.UUID) -> bool:
    """Granting permission or setting preferences: the customer itself, or ADMIN."""
    if viewer.is_customer:
        return viewer.id == customer_id
    return viewer.has_role(Role.ADMIN)


async def may_withdraw_consent(viewer: Viewer, customer_id: uuid.UUID) -> bool:
    """Withdrawing is as easy as granting, and an agent on the phone may record it too."""
    if await may_record_consent(viewer, customer_id):
        return True
    if viewer.has_role(Role.AGENT):
        return customer_id in await viewer.access()
    return False


def resolve_target(viewer: Viewer, customer_id: uuid.UUID | None) -> uuid.UUID:
    """The customer an operation is about: given, or (customer callers only) the caller."""
    from tidings.core.errors import UserInputError

    if customer_id is not None:
        return customer_id
    if viewer.is_customer:
        return viewer.id
    raise UserInputError("REQUIRED", "Staff callers must give customerId.", "customerId")
