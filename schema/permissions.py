"""Permission classes: who may call an operation, and who may read a protected field.

Root fields carry an operation gate (`Authenticated`, `StaffRoles(...)`); fields holding
personal data carry a field gate (`CanReadCustomerPII`, ...). `PROTECTED_FIELD_GATES` names
the field gates so the schema test can find every protected field and every path to it.
"""

from __future__ import annotations

import uuid
from typing import Any

from strawberry.permission import BasePermission

from tidings.core.audit.read import may_read_access_log
from tidings.core.enums import Role
from tidings.core.scopes import allows
from tidings.core.viewer import Viewer, ViewerKind, pii_readable
from tidings.schema.context import Info
from tidings.schema.errors import ForbiddenGraphQLError, UnauthenticatedGraphQLError
from tidings.schema.extensions.pii_reads import note_pii_read

FORBIDDEN = {"code": "FORBIDDEN"}


def check_scope(viewer: Viewer, info: Info) -> None:
    """Where the role is checked, an API key's scopes are too (core/scopes.py): a root field
    its scopes do not cover is FORBIDDEN, like one its role does not."""
    if viewer.scopes is not None and info.path.prev is None:
        if not allows(viewer.scopes, info.field_name):
            raise ForbiddenGraphQLError("This API key's scopes do not cover this operation.")


class Authenticated(BasePermission):
    """Any valid token: staff, customer or API key."""

    message = "Authentication required: send a valid bearer token."
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.raw_viewer
        if viewer is None:
            raise UnauthenticatedGraphQLError()
        check_scope(viewer, info)
        return True


def staff_roles(*roles: Role) -> type[BasePermission]:
    """A gate for staff (and API keys) holding one of `roles`; customers are refused."""

    class StaffRoles(BasePermission):
        message = "Your role may not perform this operation."
        error_extensions = FORBIDDEN

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            viewer = info.context.raw_viewer
            if viewer is None:
                raise UnauthenticatedGraphQLError()
            if not viewer.has_role(*roles):
                raise ForbiddenGraphQLError(self.message)
            check_scope(viewer, info)
            return True

    StaffRoles.__name__ = "StaffRoles_" + "_".join(r.value for r in roles)
    return StaffRoles


ANY_STAFF = staff_roles(Role.ADMIN, Role.MARKETER, Role.AGENT, Role.AUDITOR)
ADMIN_ONLY = staff_roles(Role.ADMIN)


class CustomersOnly(BasePermission):
    """Operations on the caller's own inbox: customer tokens only."""

    message = "Only a customer token may use this operation."
    error_extensions = FORBIDDEN

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.raw_viewer
        if viewer is None:
            raise UnauthenticatedGraphQLError()
        return viewer.is_customer


class CanReadCustomerPII(BasePermission):
    """Email, phone and consent evidence: the customer, ADMIN, or an AGENT with READ.

    Synchronous on purpose (it runs once per customer per field): the context loads an
    agent's access grants when the request starts, so the check is a lookup. Each field let
    through is noted for the audit log's `customer.read` entry (`RecordPiiReads`)."""

    message = "You may not read this customer's personal data."
    error_extensions = FORBIDDEN

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.raw_viewer
        customer_id: uuid.UUID = source.customer_uuid
        if viewer is None or not pii_readable(viewer, customer_id):
            return False
        note_pii_read(customer_id, info.field_name)
        return True


class CanReadStaffEmail(BasePermission):
    """A staff member's email: ADMIN, or the member itself."""

    message = "You may not read this staff member's email."
    error_extensions = FORBIDDEN

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.raw_viewer
        return viewer is not None and (
            viewer.has_role(Role.ADMIN)
            or (viewer.kind is ViewerKind.STAFF and viewer.id == source.staff_uuid)
        )


class CanReadMessageContent(BasePermission):
    """Message titles and bodies: every caller who may see the message but AUDITOR."""

    message = "Auditors may not read message content."
    error_extensions = FORBIDDEN

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.raw_viewer
        return viewer is not None and not viewer.has_role(Role.AUDITOR)


class CanReadDeliveryErrors(BasePermission):
    """A provider's error text is for admins: it may quote an address, so a delivery's error
    read is a `customer.read` of its recipient (an event's detail names no customer)."""

    message = "Only ADMIN may read delivery errors."
    error_extensions = FORBIDDEN

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.raw_viewer
        if viewer is None or not viewer.has_role(Role.ADMIN):
            return False
        customer_id = getattr(source, "customer_uuid", None)
        if customer_id is not None and getattr(source, "error_value", None) is not None:
            note_pii_read(customer_id, info.field_name)
        return True


class CanReadAccessLog(BasePermission):
    """Who read a customer's personal data: ADMIN, and the customer itself ("who looked at
    my data"). Ids and field names, no personal data value: not one of the PII gates."""

    message = "Only ADMIN and the customer itself may read its access log."
    error_extensions = FORBIDDEN

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.raw_viewer
        return viewer is not None and may_read_access_log(viewer, source.customer_uuid)


PROTECTED_FIELD_GATES: tuple[type[BasePermission], ...] = (
    CanReadCustomerPII,
    CanReadStaffEmail,
    CanReadMessageContent,
    CanReadDeliveryErrors,
)
