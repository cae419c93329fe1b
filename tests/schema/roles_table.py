"""The vocabulary of the who-may-call table (`test_roles.OPS`): callers, outcomes, documents,
and the rows for messages and deliveries."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.schema.authz_world import SENT_CATEGORY, World, failed_delivery
from tidings.core.enums import DeliveryStatus, SuppressionReason
from tidings.core.ids import new_id
from tidings.core.models.messages import Delivery, Notification
from tidings.core.models.suppressions import Suppression
from tidings.schema.ids import to_global_id

OK = "ok"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
NOT_STAFF = "NOT_STAFF"

CALLERS = (
    "ADMIN",
    "MARKETER",
    "AUDITOR",
    "AGENT_READ",
    "AGENT_NO_GRANT",
    "CUSTOMER_SELF",
    "CUSTOMER_OTHER",
    "KEY_ADMIN",
    "KEY_MARKETER",
    "KEY_AGENT",
    "KEY_AUDITOR",
)
EVERYONE = frozenset(CALLERS)
ADMINS = frozenset({"ADMIN", "KEY_ADMIN"})
READERS_OF_STAFF = ADMINS | {"AUDITOR", "KEY_AUDITOR"}
STAFF_MEMBERS = frozenset({"ADMIN", "MARKETER", "AUDITOR", "AGENT_READ", "AGENT_NO_GRANT"})
UNSEEN = {"CUSTOMER_OTHER": NOT_FOUND}  # the target customer does not exist for them
UNSEEN_BY_AGENTS = {**UNSEEN, "AGENT_NO_GRANT": NOT_FOUND, "KEY_AGENT": NOT_FOUND}
CUSTOMERS = frozenset({"CUSTOMER_SELF", "CUSTOMER_OTHER"})
ANY_STAFF = EVERYONE - CUSTOMERS
AUDITORS = frozenset({"AUDITOR", "KEY_AUDITOR"})
MARKETERS = frozenset({"MARKETER", "KEY_MARKETER"})
# A query whose type leaves no room for a payload: an unseen object is BAD_USER_INPUT,
# exactly as for one that does not exist.
BAD_INPUT = "BAD_USER_INPUT"

Vars = Callable[[World], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Op:
    document: str
    allowed: frozenset[str]
    variables: Vars | None = None
    otherwise: dict[str, str] = field(default_factory=dict)  # caller → outcome when refused


def target(world: World) -> str:
    return to_global_id("Customer", world.target)


def fixed(make: Callable[[World], dict[str, Any]]) -> Vars:
    async def variables(world: World) -> dict[str, Any]:
        return make(world)

    return variables


def payload(name: str, args: str, selection: str, decl: str = "") -> str:
    return f"mutation{decl} {{ {name}{args} {{ {selection} errors {{ code }} }} }}"


def with_input(name: str, input_type: str, selection: str) -> str:
    return payload(name, "(input: $input)", selection, f"($input: {input_type}!)")


async def the_failed_delivery(world: World) -> dict[str, Any]:
    return {"id": to_global_id("Delivery", await failed_delivery(world))}


async def the_failed_deliverys_message(world: World) -> dict[str, Any]:
    row = await Delivery.get(id=await failed_delivery(world))
    return {"filter": {"messageId": to_global_id("Message", row.message_id)}}


def send_input(world: World) -> dict[str, Any]:
    mark = secrets.token_hex(4)
    return {
        "input": {
            "idempotencyKey": f"roles-{mark}",
            "category": SENT_CATEGORY,
            "to": {"customerId": target(world)},
            "channels": ["email"],
            "content": {"title": f"Roles title {mark}", "body": "b"},
        }
    }


MESSAGE_OPS: dict[str, Op] = {
    # Customers read their notifications, not messages; unseen messages are simply absent.
    "message": Op(
        "query($id: ID!) { message(id: $id) { id } }",
        ANY_STAFF,
        fixed(lambda w: {"id": to_global_id("Message", w.messages["broadcast"])}),
    ),
    "messages": Op("{ messages { nodes { id } } }", ANY_STAFF),
    "failedDeliveries": Op("{ failedDeliveries { nodes { id } } }", ADMINS | AUDITORS),
    "explainDelivery": Op(
        'query($id: ID!) { explainDelivery(customerId: $id, category: "news", channel: "email")'
        " { status } }",
        ANY_STAFF - {"AGENT_NO_GRANT", "KEY_AGENT"},  # they do not see the target
        fixed(lambda w: {"id": target(w)}),
        {"AGENT_NO_GRANT": BAD_INPUT, "KEY_AGENT": BAD_INPUT},
    ),
    "templates": Op("{ templates { category } }", ANY_STAFF),
    # ADMIN and MARKETER send to any audience; an agent to customers it holds SEND for.
    "send": Op(
        with_input("send", "SendInput", "message { id }"),
        ADMINS | MARKETERS | {"AGENT_READ"},
        fixed(send_input),
        {"AGENT_NO_GRANT": NOT_FOUND, "KEY_AGENT": NOT_FOUND},
    ),
    "retryDelivery": Op(
        payload("retryDelivery", "(id: $id)", "delivery { id }", "($id: ID!)"),
        ADMINS,
        the_failed_delivery,
    ),
    "retryDeliveries": Op(
        payload(
            "retryDeliveries", "(filter: $filter)", "count", "($filter: RetryDeliveriesFilter!)"
        ),
        ADMINS,
        the_failed_deliverys_message,
    ),
    "setTemplate": Op(
        with_input("setTemplate", "SetTemplateInput", "template { category }"),
        ADMINS | MARKETERS,
        fixed(
            lambda w: {
                "input": {
                    "category": SENT_CATEGORY,
                    "channel": "email",
                    "locale": "en",
                    "title": "Your account",
                    "body": "Hello {{ customer.name }}",
                }
            }
        ),
    ),
}


async def fresh_suppression(world: World) -> dict[str, Any]:
    """A suppression in force, for liftSuppression to lift."""
    row = await Suppression.create(
        channel="email", address_hash=secrets.token_hex(32), reason=SuppressionReason.HARD_BOUNCE
    )
    return {"input": {"id": to_global_id("Suppression", row.id), "reason": "mailbox fixed"}}


# Any staff role lists suppressions (only hashes: no personal data); ADMIN lifts them.
SUPPRESSION_OPS: dict[str, Op] = {
    "suppressions": Op("{ suppressions { nodes { id reason } } }", ANY_STAFF),
    "liftSuppression": Op(
        with_input("liftSuppression", "LiftSuppressionInput", "suppression { id }"),
        ADMINS,
        fresh_suppression,
    ),
}


# The analytics: ADMIN, MARKETER and AUDITOR (and API keys of those roles) read them; agents
# and customers do not.
STATS_READERS = ADMINS | MARKETERS | AUDITORS
STATS_OPS: dict[str, Op] = {
    "deliveryStats": Op(
        '{ deliveryStats(from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z", '
        "groupBy: [CATEGORY, CHANNEL]) { attempted deliveryRate } }",
        STATS_READERS,
    ),
    "consentStats": Op(
        "{ consentStats(groupBy: [CATEGORY, CHANNEL, TIER]) { customers optInRate } }",
        STATS_READERS,
    ),
}


async def targets_notification(world: World) -> dict[str, Any]:
    """A fresh unread notification in the target's inbox: its own to CUSTOMER_SELF, someone
    else's (NOT_FOUND) to CUSTOMER_OTHER."""
    row = await Notification.create(
        customer_id=world.target, delivery_id=new_id(), category=SENT_CATEGORY, title="t", body="b"
    )
    return {"ids": [to_global_id("Notification", row.id)]}


async def targets_sent_delivery(world: World) -> dict[str, Any]:
    """A fresh SENT push delivery to the target: its own to CUSTOMER_SELF, someone else's
    (NOT_FOUND) to CUSTOMER_OTHER."""
    assert world.failed_delivery is not None
    failed = await Delivery.get(id=world.failed_delivery)
    row = await Delivery.create(
        message_id=failed.message_id,  # type: ignore[attr-defined]
        customer_id=world.target,
        channel="push",
        status=DeliveryStatus.SENT,
    )
    return {"id": to_global_id("Delivery", row.id), "kind": "OPENED"}


# Every customer has an inbox of its own; staff and API keys have none (FORBIDDEN).
INBOX_OPS: dict[str, Op] = {
    "inbox": Op("{ inbox { nodes { id } } }", CUSTOMERS),
    "unreadCount": Op("{ unreadCount }", CUSTOMERS),
    "markRead": Op(
        payload("markRead", "(ids: $ids)", "", "($ids: [ID!]!)"),
        frozenset({"CUSTOMER_SELF"}),
        targets_notification,
        {"CUSTOMER_OTHER": NOT_FOUND},
    ),
    "markAllRead": Op(payload("markAllRead", "", "unreadCount"), CUSTOMERS),
    # An app reports engagement with its customer's own deliveries; staff and keys may not.
    "recordEngagement": Op(
        payload(
            "recordEngagement",
            "(deliveryId: $id, kind: $kind)",
            "recorded",
            "($id: ID!, $kind: EngagementKind!)",
        ),
        frozenset({"CUSTOMER_SELF"}),
        targets_sent_delivery,
        {"CUSTOMER_OTHER": NOT_FOUND},
    ),
    "archive": Op(
        payload("archive", "(ids: $ids)", "", "($ids: [ID!]!)"),
        frozenset({"CUSTOMER_SELF"}),
        targets_notification,
        {"CUSTOMER_OTHER": NOT_FOUND},
    ),
}


async def fresh_webhook(world: World) -> dict[str, Any]:
    """A webhook of its own for each caller, so a deletion does not leave the next none."""
    from tidings.core.enums import WebhookEventType
    from tidings.core.services.webhooks import WebhookService

    hook, _ = await WebhookService(allow_private=True).create(
        world.admin_viewer, "http://127.0.0.1:9/roles", [WebhookEventType.CONSENT]
    )
    return {"id": to_global_id("Webhook", hook.id)}


async def webhook_of(world: World) -> dict[str, Any]:
    return {"webhookId": (await fresh_webhook(world))["id"]}


def event_input(world: World) -> dict[str, Any]:
    return {
        "input": {
            "idempotencyKey": f"roles-{secrets.token_hex(4)}",
            "customerId": target(world),
            "type": "purchase",
            "value": "42.50",
            "currency": "EUR",
        }
    }


# The audit log: ADMIN and AUDITOR (staff or API key); the rest FORBIDDEN.
AUDIT_OPS: dict[str, Op] = {
    "auditLog": Op("{ auditLog(first: 5) { nodes { id action } } }", ADMINS | AUDITORS),
}


# Conversions and webhooks are the company's back end's business: ADMIN and ADMIN API keys.
WEBHOOK_OPS: dict[str, Op] = {
    "recordEvent": Op(
        with_input("recordEvent", "RecordEventInput", "event { id }"), ADMINS, fixed(event_input)
    ),
    "createWebhook": Op(
        with_input("createWebhook", "CreateWebhookInput", "webhook { id } secret"),
        ADMINS,
        fixed(lambda w: {"input": {"url": "http://127.0.0.1:9/hook", "events": ["CONSENT"]}}),
    ),
    "deleteWebhook": Op(
        payload("deleteWebhook", "(id: $id)", "webhook { id }", "($id: ID!)"),
        ADMINS,
        fresh_webhook,
    ),
    "webhooks": Op("{ webhooks { id } }", ADMINS),
    "webhookDeliveries": Op(
        "query($webhookId: ID!) { webhookDeliveries(webhookId: $webhookId) { nodes { id } } }",
        ADMINS,
        webhook_of,
    ),
}
