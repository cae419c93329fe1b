"""Every field of every object type is classified on purpose: public to whoever reaches the
object, or behind a protected-field gate (`schema/permissions.py`). A new field fails
`test_every_field_is_classified` until it is added here; the root operations are classified
in `test_roles.py` (who may call them) and `test_protected_paths.py` (how to reach them);
the subscriptions in `tests/live/test_subscription_roles.py`."""

from __future__ import annotations

from graphql import is_object_type

from tests.schema.schema_paths import field_gate, graphql_schema
from tidings.schema.permissions import PROTECTED_FIELD_GATES

ROOTS = ("Query", "Mutation", "Subscription")


# Every field of every object type (the roots are classified in test_roles.py): public to
# whoever reaches the object, or behind a protected-field gate. A new field fails
# `test_every_field_is_classified` until it is added here, on purpose.
PII = "CanReadCustomerPII"
STAFF_EMAIL = "CanReadStaffEmail"
CONTENT = "CanReadMessageContent"  # everyone who may see the message but AUDITOR
DELIVERY_ERRORS = "CanReadDeliveryErrors"  # ADMIN only: a provider's error may quote an address
PUBLIC = "public"


def _public(names: str, **protected: str) -> dict[str, str]:
    return {**dict.fromkeys(names.split(), PUBLIC), **protected}


CONNECTION = "edges pageInfo nodes"
FIELD_CLASSES: dict[str, dict[str, str]] = {
    "AccessGrant": _public("id actions expiresAt createdAt staff customer"),
    "AccessGrantConnection": _public(CONNECTION),
    "AccessGrantEdge": _public("cursor node"),
    "AccessGrantPayload": _public("accessGrant errors"),
    # Scopes and expiry say what a key may do, not who holds it: as public as its role.
    "ApiKey": _public("id name role prefix createdAt lastUsedAt scopes expiresAt"),
    "ApiKeyConnection": _public(CONNECTION),
    "ApiKeyEdge": _public("cursor node"),
    # `secret` is shown once, to the ADMIN who called createApiKey (an operation gate).
    "ApiKeyPayload": _public("apiKey secret errors"),
    "Category": _public(
        "key name description kind defaultChannels respectQuietHours required fallbackChannel "
        "confirmEmail trackEngagement"
    ),
    # Reached only through Customer.accessLog, whose own gate (CanReadAccessLog: ADMIN and
    # the customer itself) is tested in tests/audit/test_access_log.py: ids and field names.
    "AccessLogEntry": _public("at actorKind actorId fields operation"),
    "AccessLogEntryConnection": _public(CONNECTION),
    "AccessLogEntryEdge": _public("cursor node"),
    # Reached only through auditLog (ADMIN and AUDITOR): ids and what happened, never a
    # personal data value or message content (core/audit).
    "AuditEntry": _public(
        "id at action actorKind actorId customerId targets detail requestId ip hash prevHash"
    ),
    "AuditEntryConnection": _public(CONNECTION),
    "AuditEntryEdge": _public("cursor node"),
    "CategoryPayload": _public("category errors"),
    # `secret` is shown once, to the ADMIN who called createWebhook (an operation gate).
    "CreateWebhookPayload": _public("webhook secret errors"),
    "Channel": _public("name providers"),
    "Customer": _public(
        "id externalId name locale timezone tier attributes createdAt emailMasked "
        "permissionGrants permissionHistory preferences disabled disabledAt "
        "erasureRequestedAt "  # a time, no personal data: when it asked to be erased
        # Gated by CanReadAccessLog (ADMIN, the customer itself): not a personal-data gate.
        "accessLog",
        email=PII,
        phone=PII,
        devices=PII,
        # A link that opens the customer's preference page: as good as its contact details.
        preferenceLink=PII,
    ),
    "CustomerConnection": _public(CONNECTION),
    # Reached only by recordEvent (ADMIN): ids, a type, an amount and times, no personal data.
    "CustomerEvent": _public(
        "id customerId type value currency occurredAt recordedAt idempotencyKey "
        "attributedDeliveryId attributedMessageId"
    ),
    "CustomerEventPayload": _public("event errors"),
    "CustomerEdge": _public("cursor node"),
    "CustomerPayload": _public("customer errors"),
    "Device": _public("id platform createdAt lastSeenAt"),
    "Delivery": _public(
        "id channel status reason attempts notBefore provider createdAt updatedAt rules "
        "deliveredAt openedAt clickedAt "  # when the provider reported them: no content
        "customer "  # the recipient: the caller's usual customer visibility and PII gates
        "message "  # a delivery is only reached through a message the caller may see
        "events",  # what the provider reported: kinds and times; the detail is gated below
        lastError=DELIVERY_ERRORS,
    ),
    "DeliveryConnection": _public(CONNECTION),
    "DeliveryCount": _public("status count"),
    "DeliveryEdge": _public("cursor node"),
    # A provider's detail (a bounce's diagnostic) may quote an address, as lastError may.
    "DeliveryEvent": _public("id kind at permanent", detail=DELIVERY_ERRORS),
    "DeliveryExplanation": _public("status reason channel notBefore rules"),
    "DeliveryPayload": _public("delivery errors"),
    "DevicePayload": _public("device errors"),
    "EngagementPayload": _public("recorded errors"),
    "EraseCustomerPayload": _public("customerId errors"),
    # The export is the customer's own data, and only the customer or ADMIN reaches it (the
    # operation refuses everyone else): its document and link hold PII on purpose.
    "ExportCustomerDataPayload": _public("data url errors"),
    "InboxPayload": _public("unreadCount errors"),
    "InboxUpdate": _public("unreadCount readIds archivedIds"),  # the customer's own, live
    "LoginPayload": _public("token retryAfter errors"),
    "LogoutPayload": _public("ok errors"),
    "Message": _public(
        "id category status createdAt scheduleAt deliveryCounts deliveries",
        title=CONTENT,
        body=CONTENT,
    ),
    "MessageConnection": _public(CONNECTION),
    "MessageEdge": _public("cursor node"),
    # Reached only through the customer's own inbox (a CustomersOnly root that filters by
    # the caller): nobody else ever gets one, so its fields need no gate of their own.
    "Notification": _public("id category title body data createdAt readAt"),
    "NotificationConnection": _public(CONNECTION),
    "NotificationEdge": _public("cursor node"),
    "PageInfo": _public("hasNextPage hasPreviousPage startCursor endCursor"),
    "PermissionGrant": _public(
        "id channel category status source grantedAt withdrawnAt expiresAt",
        evidence=PII,
        recordedBy=PII,
    ),
    "PermissionGrantConnection": _public(CONNECTION),
    "PermissionGrantEdge": _public("cursor node"),
    "PermissionGrantPayload": _public("grant errors"),
    "Preference": _public("category channels frequency quietHours"),
    "PreferencePayload": _public("preference errors"),
    "QuietHours": _public("start end"),
    "RetryDeliveriesPayload": _public("count errors"),
    "RuleOutcome": _public("rule verdict detail channel"),
    "SendPayload": _public("message errors"),
    "Staff": _public("id role active createdAt lastLoginAt", email=STAFF_EMAIL),
    "StaffConnection": _public(CONNECTION),
    "StaffEdge": _public("cursor node"),
    "StaffPayload": _public("staff errors"),
    # Only a hash of the address is kept: nothing here can name one. Its delivery is an ID,
    # not the Delivery (whose customer and error are gated): following it takes `node(id:)`.
    # Analytics rows carry counts and dimension values, never a customer: the root fields'
    # role gate (ADMIN, MARKETER, AUDITOR) is their only gate.
    "StatsRow": _public(
        "category channel tier day messageId reason other attempted suppressed deferred sent "
        "delivered failed bounced complained opened clicked converted revenue unsubscribed "
        "deliveryRate bounceRate openRate clickRate conversionRate unsubscribeRate "
        "complaintRate clickToOpenRate receiptsReported"
    ),
    "ConsentStatsRow": _public(
        "category channel tier other customers reachable granted withdrawn expired pending "
        "neverAsked expiringSoon optInRate withdrawals"
    ),
    "WithdrawalCount": _public("source count"),
    "Suppression": _public(
        "id channel reason provider createdAt deliveryId liftedAt liftedBy liftReason"
    ),
    "SuppressionConnection": _public(CONNECTION),
    "SuppressionEdge": _public("cursor node"),
    "SuppressionPayload": _public("suppression errors"),
    # Templates are message content: any staff role lists them, AUDITOR without the text.
    "Template": _public(
        "id category channel locale updatedAt", title=CONTENT, body=CONTENT, html=CONTENT
    ),
    "TemplatePayload": _public("template errors"),
    "RequestErasurePayload": _public("erasureDueAt erased errors"),
    "TokenPayload": _public("token errors"),
    "UserError": _public("code field message"),
    # Webhooks are reached only through ADMIN roots (webhooks, webhookDeliveries, the
    # mutations); their rows hold ids and statuses, never an address or content.
    "Webhook": _public("id url events createdAt"),
    "WebhookDelivery": _public(
        "id eventId eventType status attempts lastError lastStatusCode nextAttemptAt "
        "deliveredAt createdAt"
    ),
    "WebhookDeliveryConnection": _public(CONNECTION),
    "WebhookDeliveryEdge": _public("cursor node"),
    "WebhookPayload": _public("webhook errors"),
}


def test_every_field_is_classified():
    schema = graphql_schema()
    actual: dict[str, dict[str, str]] = {}
    for name, gql_type in schema.type_map.items():
        if not is_object_type(gql_type) or name.startswith("__") or name in ROOTS:
            continue
        actual[name] = {}
        for field in gql_type.fields:
            gate = field_gate(name, field)
            actual[name][field] = gate.permission.__name__ if gate else PUBLIC
    assert actual == FIELD_CLASSES


def test_protected_gates_are_the_ones_classified():
    used = {c for fields in FIELD_CLASSES.values() for c in fields.values()} - {PUBLIC}
    assert used == {gate.__name__ for gate in PROTECTED_FIELD_GATES}
