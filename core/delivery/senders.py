"""Who may send to whom: asked when a send is made, and again when a scheduled or tier send
expands, since a right may end in between (an agent's access grant revoked, a staff member
deactivated, an API key revoked). One rule for both, so the two answers cannot drift.

ADMIN and MARKETER send to any audience; an AGENT to the customers it holds an unexpired
SEND access grant for; any other role, and a sender that no longer exists, to no one.
A recipient refused at expansion gets its deliveries SUPPRESSED with SENDER_NOT_ALLOWED,
so the console shows why the message reached no one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from tidings.core.enums import AccessAction, Role
from tidings.core.models import ApiKey, Staff
from tidings.core.viewer import Viewer, ViewerKind


@dataclass(frozen=True)
class SendRight:
    """What a sender may send to now. `refusal` says why a refused customer is refused."""

    any_audience: bool = False
    customers: frozenset[uuid.UUID] = frozenset()
    refusal: str = "the sender may not send"

    def allows(self, customer_id: uuid.UUID) -> bool:
        return self.any_audience or customer_id in self.customers

    def allows_audience(self, customer_ids: Sequence[uuid.UUID] | None) -> bool:
        """A list of customers, or a whole tier (None)."""
        if customer_ids is None:
            return self.any_audience
        return all(self.allows(customer_id) for customer_id in customer_ids)


async def send_right(viewer: Viewer) -> SendRight:
    """The rule, for a caller as it is now."""
    if viewer.has_role(Role.ADMIN, Role.MARKETER):
        return SendRight(any_audience=True)
    if viewer.has_role(Role.AGENT):
        access = await viewer.access()
        return SendRight(
            customers=frozenset(c for c, actions in access.items() if AccessAction.SEND in actions),
            refusal="the sending agent holds no SEND access grant for the customer now",
        )
    role = viewer.role.value if viewer.role is not None else viewer.kind.value
    return SendRight(refusal=f"the sender's role ({role}) may not send")


async def sender_right(created_by: str) -> SendRight:
    """The right of a message's sender ("staff:<id>", "api_key:<id>") as it stands now, read
    from the database: a deactivated staff member or a revoked API key has none."""
    kind, _, raw = created_by.partition(":")
    try:
        sender_id = uuid.UUID(raw)
    except ValueError:
        return SendRight(refusal="the sender is unknown")
    if kind == ViewerKind.STAFF.value:
        role = await Staff.filter(id=sender_id, active=True).values_list("role", flat=True)
        if not role:
            return SendRight(refusal="the staff member who sent it is deactivated")
        return await send_right(Viewer(kind=ViewerKind.STAFF, id=sender_id, role=Role(role[0])))
    if kind == ViewerKind.API_KEY.value:
        role = await ApiKey.filter(id=sender_id, revoked_at__isnull=True).values_list(
            "role", flat=True
        )
        if not role:
            return SendRight(refusal="the API key that sent it is revoked")
        return await send_right(Viewer(kind=ViewerKind.API_KEY, id=sender_id, role=Role(role[0])))
    return SendRight(refusal="the sender may not send")
