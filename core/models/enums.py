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
