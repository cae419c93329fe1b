"""The domain's enumerations as GraphQL enums, each value described for GraphiQL's reference.

The Python enums live in `tidings.core.enums`, which stays free of strawberry; the descriptions
live here, beside the schema that shows them. `describe` refuses an enum with a value left
undescribed, so a value added in core cannot reach the schema without its meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

import strawberry

from tidings.core.enums import (
    AccessAction,
    CategoryKind,
    DeliveryReason,
    DeliveryStatus,
    EngagementKind,
    Frequency,
    GrantStatus,
    MessageStatus,
    Platform,
    Role,
    RuleVerdict,
    StatsDimension,
    SuppressionReason,
    Tier,
    WebhookDeliveryStatus,
    WebhookEventType,
)
from tidings.plugins.feedback import FeedbackKind

E = TypeVar("E", bound=type[Enum])


def describe(cls: E, description: str, values: Mapping[str, str]) -> E:
    """`cls` as the GraphQL enum of the same name, with a description for it and each value
    (keyed by member name)."""
    missing = {member.name for member in cls} ^ set(values)
    if missing:
        raise ValueError(f"{cls.__name__}: describe exactly its members; mismatched {missing}")
    wrapped = strawberry.enum(cls, name=cls.__name__, description=description)
    for value in wrapped.__strawberry_definition__.values:  # type: ignore[attr-defined]
        member = cls(value.value)
        value.description = values[member.name]
    return wrapped


RoleEnum = describe(
    Role,
    "A staff member's (or API key's) role: what it may see and do.",
    {
        "ADMIN": "Everything, personal data included.",
        "MARKETER": "Customers without personal data, categories, templates, sends to audiences.",
        "AGENT": "Only the customers it holds an unexpired access grant for; their personal "
        "data with a READ grant. Sees the messages it sent.",
        "AUDITOR": "Reads everything but personal data and message content; changes nothing.",
    },
)
TierEnum = describe(
    Tier,
    "A customer's value tier. Tier policy supplies frequency and caps where the customer set "
    "no preference.",
    {
        "HIGH_VALUE": "Top customers; marketing in real time by default.",
        "POTENTIAL": "Customers worth growing; marketing in real time by default.",
        "ORDINARY": "Everyone else (the default); marketing as a daily digest by default.",
    },
)
CategoryKindEnum = describe(
    CategoryKind,
    "Whether a category needs the customer's permission.",
    {
        "TRANSACTIONAL": "Service messages (receipts, security alerts): need no permission, are "
        "never digested and ignore quiet hours unless the category respects them.",
        "MARKETING": "Promotional messages: need a GRANTED permission for the channel and "
        "category.",
    },
)
GrantStatusEnum = describe(
    GrantStatus,
    "The state of a customer's permission for one channel and category.",
    {
        "GRANTED": "Given and in force.",
        "WITHDRAWN": "Refused or taken back (a refusal is recorded too, as evidence).",
        "EXPIRED": "Given with an expiry that has passed.",
        "PENDING": "Given for email and waiting for the customer to confirm it from the "
        "confirmation mail (confirmed opt-in); permits nothing until then.",
    },
)
FrequencyEnum = describe(
    Frequency,
    "How often a customer wants a category's messages.",
    {
        "REALTIME": "Each message as it is sent.",
        "DAILY_DIGEST": "One combined message a day.",
        "WEEKLY_DIGEST": "One combined message a week.",
    },
)
AccessActionEnum = describe(
    AccessAction,
    "What an access grant lets an agent do for its customer.",
    {
        "READ": "Read the customer's personal data (email, phone, devices, consent evidence).",
        "REPLY": "Reply to the customer.",
        "FORWARD": "Forward the customer's messages.",
        "SEND": "Send messages to the customer.",
    },
)
PlatformEnum = describe(
    Platform,
    "The platform of a push device.",
    {"IOS": "An Apple device.", "ANDROID": "An Android device.", "WEB": "A web browser."},
)
DeliveryStatusEnum = describe(
    DeliveryStatus,
    "Where one delivery (a recipient on a channel) stands. The policy engine gives SUPPRESSED, "
    "DEFERRED or QUEUED; workers move QUEUED on to SENT, DELIVERED or FAILED; provider "
    "feedback moves SENT on to DELIVERED, BOUNCED or COMPLAINED, and never back.",
    {
        "SUPPRESSED": "Not sent, by decision (see `reason`); final.",
        "DEFERRED": "Held until `notBefore` (quiet hours) or the next digest (see `reason`).",
        "QUEUED": "Decided, waiting for a worker (or for a retry, at `notBefore`).",
        "SENT": "The provider accepted it.",
        "DELIVERED": "Confirmed as arrived: a provider's receipt, or stored in the inbox for "
        "`in_app`.",
        "FAILED": "Could not be delivered (see `reason`); an admin may retry it.",
        "BOUNCED": "Sent, then reported undeliverable by the provider (see `events`); a late "
        "receipt never undoes it. Not retried.",
        "COMPLAINED": "Sent, then reported as unwanted (marked as spam) by the recipient; the "
        "customer's MARKETING grants on the channel were withdrawn. Final.",
        "CANCELLED": "Never sent: it was still queued, deferred or held for a digest when the "
        "customer was erased (reason ERASED). Final.",
    },
)
FeedbackKindEnum = describe(
    FeedbackKind,
    "What a provider heard back about a delivery.",
    {
        "DELIVERED": "A receipt: it arrived.",
        "BOUNCED": "It could not be delivered: `permanent` tells a hard bounce from a soft one.",
        "COMPLAINED": "The recipient reported it as unwanted (marked it as spam).",
        "OPENED": "The recipient opened it.",
        "CLICKED": "The recipient followed a link in it.",
        "REPLIED": "The recipient replied to it.",
    },
)
EngagementKindEnum = describe(
    EngagementKind,
    "What a customer's app reports of one of its deliveries (a push, say).",
    {
        "OPENED": "The customer opened it.",
        "CLICKED": "The customer followed it (a click also counts as an open).",
    },
)
MessageStatusEnum = describe(
    MessageStatus,
    "Whether every recipient of a message has its deliveries yet.",
    {
        "ACCEPTED": "Recorded; a tier audience is still being expanded into deliveries.",
        "EXPANDED": "Every recipient's deliveries exist.",
    },
)
DeliveryReasonEnum = describe(
    DeliveryReason,
    "Why a delivery was SUPPRESSED, DEFERRED or FAILED. The first six are the policy rules, in "
    "the order they run; the rest come from sending.",
    {
        "NO_PERMISSION": "SUPPRESSED: a MARKETING category without a GRANTED, unexpired "
        "permission for the channel. Nothing overrides it.",
        "OPTED_OUT": "SUPPRESSED: the customer's preference for the category leaves the "
        "channel out.",
        "NO_ADDRESS": "SUPPRESSED: no email, phone, device or other address for the channel, "
        "or one suppressed after bounces (see `suppressions`; the rule's detail says "
        '"suppressed: hard bounce" or "suppressed: soft bounces"), and none for the '
        "category's fallback channel.",
        "FREQUENCY_CAP": "SUPPRESSED: the customer's cap for the category, or for the day, is "
        "reached.",
        "QUIET_HOURS": "DEFERRED to the end of the customer's quiet hours, in its timezone.",
        "DIGEST": "DEFERRED into the customer's next digest for the category.",
        "INVALID_ADDRESS": "FAILED: the provider says the address or device does not exist "
        "(a device is retired).",
        "REJECTED": "FAILED: the provider refused it permanently for another reason.",
        "RETRIES_EXHAUSTED": "FAILED: transient failures until the retry cap.",
        "NO_PROVIDER": "FAILED: no provider serves the channel.",
        "UNKNOWN_CATEGORY": "FAILED: the message's category no longer existed when a worker "
        "came to send it.",
        "SENDER_NOT_ALLOWED": "SUPPRESSED: when the scheduled (or tier) send expanded, its "
        "sender no longer had the right to send to the customer: a deactivated staff member, "
        "a revoked API key, a role that may not send, or an agent without a SEND access grant "
        "for the customer. The rule's `detail` says which.",
        "CUSTOMER_DISABLED": "SUPPRESSED: an ADMIN has disabled the customer's account "
        "(`disableCustomer`). Checked before every other rule, at the decision and again "
        "just before a provider is handed the delivery; `required` does not override it.",
        "ERASED": "CANCELLED: the customer was erased before it was sent.",
    },
)
RuleVerdictEnum = describe(
    RuleVerdict,
    "What one policy rule said about a delivery. The rules after a STOP are not listed.",
    {
        "PASS": "The rule was checked and allows the delivery.",
        "STOP": "The rule decides the delivery: its status and reason come from this rule.",
        "SKIP": "The rule does not apply here: a transactional or `required` category, or one "
        "that ignores quiet hours (`detail` says which).",
    },
)

SuppressionReasonEnum = describe(
    SuppressionReason,
    "Why an address is suppressed on a channel.",
    {
        "HARD_BOUNCE": "A provider reported a permanent bounce: the address does not exist or "
        "refuses mail for good.",
        "SOFT_BOUNCES": "Three temporary bounces at least, the first and the last 72 hours "
        "apart or more, with no delivery arriving between them.",
    },
)
StatsDimensionEnum = describe(
    StatsDimension,
    "What `deliveryStats` and `consentStats` group by (consent: CATEGORY, CHANNEL and TIER "
    "only). A row carries the value of each dimension grouped by; the others are null.",
    {
        "CATEGORY": "The message's category key.",
        "CHANNEL": 'The channel: "email", "sms", "push", "in_app", or one a plugin adds.',
        "TIER": "The customer's tier (deliveries: as it was when the delivery was made; "
        "consent: as it is now).",
        "DAY": "The day the delivery was created, in the query's time zone; later feedback "
        "(an open, a bounce) counts toward that day.",
        "MESSAGE": "The message (its global ID).",
        "REASON": "Why a delivery was suppressed, deferred or failed (null for the others).",
    },
)
WebhookEventTypeEnum = describe(
    WebhookEventType,
    "What an outbound webhook hears about (docs/webhooks.md shows each payload). Payloads "
    "carry ids, statuses and times, never addresses, phone numbers or message text.",
    {
        "DELIVERY_STATUS": "A delivery's status changed: sent, delivered, failed, bounced, ...",
        "ENGAGEMENT": "A delivery was opened or clicked.",
        "CONSENT": "A permission was granted or withdrawn (any source: the API, the preference "
        "page, a complaint, an SMS STOP or START).",
        "CONVERSION": "A customer event was recorded (`recordEvent`), with its attribution.",
    },
)
WebhookDeliveryStatusEnum = describe(
    WebhookDeliveryStatus,
    "Where one event stands on its way to one webhook.",
    {
        "PENDING": "Not yet accepted by the endpoint: waiting for its first or next attempt.",
        "DELIVERED": "The endpoint answered 2xx.",
        "FAILED": "Every attempt failed, up to the retry cap; no more are made.",
        "CANCELLED": "The webhook was deleted before the event reached it.",
    },
)


def delivery_reason(value: str | DeliveryReason | None) -> DeliveryReason | None:
    """A stored reason (a code string, or the enum) as the enum."""
    return None if value is None else DeliveryReason(value)


def rule_verdict(value: str | RuleVerdict) -> RuleVerdict:
    """A rule outcome's verdict, as stored in a delivery's rules ("pass", ...), as the enum."""
    return RuleVerdict(value)
