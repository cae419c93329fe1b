"""The domain's enumerations: stored in the database, read by the policy engine, exposed by
the schema. Their values are the contract's names. Plain Python: the policy engine imports this
module without importing the ORM."""

from enum import Enum


class Role(str, Enum):
    ADMIN = "ADMIN"
    MARKETER = "MARKETER"
    AGENT = "AGENT"
    AUDITOR = "AUDITOR"


class Tier(str, Enum):
    HIGH_VALUE = "HIGH_VALUE"
    POTENTIAL = "POTENTIAL"
    ORDINARY = "ORDINARY"


class CategoryKind(str, Enum):
    TRANSACTIONAL = "TRANSACTIONAL"
    MARKETING = "MARKETING"


class GrantStatus(str, Enum):
    GRANTED = "GRANTED"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"
    # An email grant waiting for the customer to confirm it (confirmed opt-in): permits nothing.
    PENDING = "PENDING"


class EmailConfirmation(str, Enum):
    """TIDINGS_EMAIL_CONFIRMATION: whether an email grant must be confirmed by the customer
    before it permits anything. CATEGORY: where the category asks (`confirm_email`)."""

    CATEGORY = "category"
    REQUIRED = "required"


class MessageKind(str, Enum):
    """SEND: a caller's message, decided by the policy engine. CONFIRMATION: the mail that
    asks a customer to confirm an email grant; sent to the address whatever the consent
    (it is what consent waits on), never by a caller."""

    SEND = "send"
    CONFIRMATION = "confirmation"


class Frequency(str, Enum):
    REALTIME = "REALTIME"
    DAILY_DIGEST = "DAILY_DIGEST"
    WEEKLY_DIGEST = "WEEKLY_DIGEST"


class AccessAction(str, Enum):
    READ = "READ"
    REPLY = "REPLY"
    FORWARD = "FORWARD"
    SEND = "SEND"


class Platform(str, Enum):
    IOS = "IOS"
    ANDROID = "ANDROID"
    WEB = "WEB"


class DeliveryStatus(str, Enum):
    """Where one delivery (a recipient × channel) stands. The policy engine gives the first
    three; workers move QUEUED on to SENT, DELIVERED or FAILED; provider feedback moves SENT
    on to DELIVERED, BOUNCED or COMPLAINED, forward only (core/delivery/feedback.py)."""

    SUPPRESSED = "SUPPRESSED"
    DEFERRED = "DEFERRED"
    QUEUED = "QUEUED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    BOUNCED = "BOUNCED"
    COMPLAINED = "COMPLAINED"
    # Never sent: stopped before it was, by the customer's erasure (reason ERASED).
    CANCELLED = "CANCELLED"


class EngagementKind(str, Enum):
    """What a customer's app reports of one of its deliveries (`recordEngagement`); the same
    values as the feedback kinds OPENED and CLICKED."""

    OPENED = "OPENED"
    CLICKED = "CLICKED"


class MessageStatus(str, Enum):
    """ACCEPTED until every recipient's delivery exists, then EXPANDED."""

    ACCEPTED = "ACCEPTED"
    EXPANDED = "EXPANDED"


class DeliveryReason(str, Enum):
    """Why a delivery was SUPPRESSED, DEFERRED or FAILED. The first six are the policy rules'
    names, in the contract's order; the rest are what a worker finds when it expands or
    sends."""

    NO_PERMISSION = "NO_PERMISSION"
    OPTED_OUT = "OPTED_OUT"
    NO_ADDRESS = "NO_ADDRESS"
    FREQUENCY_CAP = "FREQUENCY_CAP"
    QUIET_HOURS = "QUIET_HOURS"
    DIGEST = "DIGEST"
    INVALID_ADDRESS = "INVALID_ADDRESS"
    REJECTED = "REJECTED"
    RETRIES_EXHAUSTED = "RETRIES_EXHAUSTED"
    NO_PROVIDER = "NO_PROVIDER"
    UNKNOWN_CATEGORY = "UNKNOWN_CATEGORY"
    SENDER_NOT_ALLOWED = "SENDER_NOT_ALLOWED"
    CUSTOMER_DISABLED = "CUSTOMER_DISABLED"
    ERASED = "ERASED"  # CANCELLED: the customer was erased before it was sent


class StatsDimension(str, Enum):
    """What `deliveryStats` and `consentStats` group by. DAY is the day of the delivery's
    creation in the query's time zone; late feedback counts toward that day."""

    CATEGORY = "CATEGORY"
    CHANNEL = "CHANNEL"
    TIER = "TIER"
    DAY = "DAY"
    MESSAGE = "MESSAGE"
    REASON = "REASON"


class SuppressionReason(str, Enum):
    """Why an address is suppressed on a channel: one hard (permanent) bounce, or soft bounces
    (three at least, across 72 hours or more, with no delivery between them)."""

    HARD_BOUNCE = "HARD_BOUNCE"
    SOFT_BOUNCES = "SOFT_BOUNCES"


class RuleVerdict(str, Enum):
    """What one policy rule said: PASS (checked, allows the delivery), STOP (it decides the
    delivery), SKIP (it does not apply here: a transactional or required category, ...).
    Stored in a delivery's rules as the lower-case value."""

    PASS = "pass"
    STOP = "stop"
    SKIP = "skip"


class WebhookEventType(str, Enum):
    """What an outbound webhook may subscribe to (docs/webhooks.md shows each payload)."""

    DELIVERY_STATUS = "DELIVERY_STATUS"
    ENGAGEMENT = "ENGAGEMENT"
    CONSENT = "CONSENT"
    CONVERSION = "CONVERSION"


class WebhookDeliveryStatus(str, Enum):
    """One event on its way to one webhook: PENDING until the endpoint answers 2xx
    (DELIVERED), or until its retry budget runs out (FAILED); CANCELLED when the webhook was
    deleted first."""

    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
