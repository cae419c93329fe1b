"""API key scopes: what a key may call, narrower than its role.

A key created without scopes has its role's full power (every key made before scopes
existed). A key with scopes may call a root operation only when the table below names one
of them for it; its role is still checked as before, so a scope never widens a role. The
table is the one place an operation meets its scope: the schema's operation gates ask
`allows` (schema/permissions.py), and a test fails when a root field is missing here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tidings.core.errors import UserInputError

SCOPES: Mapping[str, str] = {
    "send": "send messages, retry failed deliveries",
    "customers:read": "read customers (personal data only where the role may)",
    "customers:write": "create and change customers, their devices and tokens; disable them",
    "consent:write": "record and withdraw permissions, set preferences, lift suppressions",
    "events:write": "record customer events (conversions)",
    "messages:read": "read messages, deliveries, templates and suppressions; explain decisions",
    "stats:read": "read delivery and consent statistics",
    "audit:read": "read the audit log",
    "categories:write": "create and change categories and templates",
    "webhooks:write": "create, list and delete webhooks and read their deliveries",
    "admin": "staff, API keys, access grants, and fetching any object by id (`node`)",
}

ANY_KEY = "*"  # every key may call it, whatever its scopes (`me`, the category list)
NO_KEY = "-"  # no API key may call it at all (customer-token operations, `login`)

# Every root field of Query, Mutation and Subscription, by its GraphQL name.
OPERATION_SCOPES: Mapping[str, str] = {
    # Anyone's own identity and the catalogue a sender needs.
    "me": ANY_KEY,
    "categories": ANY_KEY,
    "category": ANY_KEY,
    "channels": ANY_KEY,
    # Administration.
    "node": "admin",
    "auditLog": "audit:read",
    "staff": "admin",
    "staffMembers": "admin",
    "apiKeys": "admin",
    "accessGrants": "admin",
    "createStaff": "admin",
    "updateStaff": "admin",
    "createApiKey": "admin",
    "revokeApiKey": "admin",
    "grantAccess": "admin",
    "revokeAccessGrant": "admin",
    "logout": "admin",
    # Customers.
    "customer": "customers:read",
    "customers": "customers:read",
    "createCustomer": "customers:write",
    "updateCustomer": "customers:write",
    "issueCustomerToken": "customers:write",
    "revokeCustomerTokens": "customers:write",
    "registerDevice": "customers:write",
    "removeDevice": "customers:write",
    "disableCustomer": "customers:write",
    "eraseCustomer": "customers:write",
    # Everything held about a customer, personal data included (the role must allow it).
    "exportCustomerData": "customers:read",
    "enableCustomer": "customers:write",
    # Consent.
    "grantPermission": "consent:write",
    "withdrawPermission": "consent:write",
    "setPreference": "consent:write",
    "liftSuppression": "consent:write",
    # Sending and what it produced.
    "send": "send",
    "retryDelivery": "send",
    "retryDeliveries": "send",
    "message": "messages:read",
    "messages": "messages:read",
    "failedDeliveries": "messages:read",
    "explainDelivery": "messages:read",
    "templates": "messages:read",
    "suppressions": "messages:read",
    "deliveryUpdates": "messages:read",
    "createCategory": "categories:write",
    "updateCategory": "categories:write",
    "setTemplate": "categories:write",
    "recordEvent": "events:write",
    "deliveryStats": "stats:read",
    "consentStats": "stats:read",
    "webhooks": "webhooks:write",
    "webhookDeliveries": "webhooks:write",
    "createWebhook": "webhooks:write",
    "deleteWebhook": "webhooks:write",
    # Customer tokens only.
    "login": NO_KEY,
    "updateMe": NO_KEY,
    "requestErasure": NO_KEY,
    "inbox": NO_KEY,
    "unreadCount": NO_KEY,
    "markRead": NO_KEY,
    "markAllRead": NO_KEY,
    "archive": NO_KEY,
    "recordEngagement": NO_KEY,
    "notifications": NO_KEY,
    "inboxUpdates": NO_KEY,
}


def allows(scopes: frozenset[str] | None, operation: str) -> bool:
    """Whether a key with `scopes` (None: no scopes, the role's full power) may call the root
    field `operation`. An operation missing from the table is refused to scoped keys."""
    if scopes is None:
        return True
    needed = OPERATION_SCOPES.get(operation)
    if needed is None or needed == NO_KEY:
        return False
    return needed == ANY_KEY or needed in scopes


def clean_scopes(scopes: Iterable[str] | None, field: str = "scopes") -> list[str] | None:
    """The scopes as stored: known, without duplicates, sorted; None when not given. An empty
    list is refused: a key that may call nothing is a mistake, not a narrower key."""
    if scopes is None:
        return None
    cleaned = sorted({scope.strip() for scope in scopes})
    unknown = [scope for scope in cleaned if scope not in SCOPES]
    if unknown:
        raise UserInputError(
            "UNKNOWN_SCOPE",
            f"Unknown scope {unknown[0][:40]!r}; known: {', '.join(SCOPES)}.",
            field,
        )
    if not cleaned:
        raise UserInputError("NO_SCOPES", "Give at least one scope, or none at all.", field)
    return cleaned
