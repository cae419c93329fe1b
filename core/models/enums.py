"""Enumerations stored in the database; their values are the contract's names."""

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
    three; workers move QUEUED on to SENT, DELIVERED or FAILED."""

    SUPPRESSED = "SUPPRESSED"
    DEFERRED = "DEFERRED"
    QUEUED = "QUEUED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class MessageStatus(str, Enum):
    """ACCEPTED until every recipient's delivery exists, then EXPANDED."""

    ACCEPTED = "ACCEPTED"
    EXPANDED = "EXPANDED"
