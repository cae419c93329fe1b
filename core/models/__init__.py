"""Tortoise models. Every table's primary key is a time-ordered UUID (see `tidings.core.ids`)."""

from tidings.core.models.access import AccessGrant, ApiKey, LoginThrottle, Staff
from tidings.core.models.audit import AuditCheckpoint, AuditEntry
from tidings.core.models.categories import Category
from tidings.core.models.customers import Customer, Device
from tidings.core.models.messages import (
    Delivery,
    DeliveryEvent,
    ExpansionJob,
    InboundReply,
    Message,
    Notification,
    Template,
)
from tidings.core.models.permissions import PermissionEntry, PermissionState, Preference
from tidings.core.models.stats import (
    StatsDay,
    StatsDayLean,
    StatsDelta,
    StatsHour,
    StatsHourLean,
    StatsPruned,
    StatsQuarter,
)
from tidings.core.models.suppressions import BounceTally, Suppression
from tidings.core.models.webhooks import CustomerEvent, Webhook, WebhookDelivery

__all__ = [
    "AccessGrant",
    "ApiKey",
    "AuditCheckpoint",
    "AuditEntry",
    "BounceTally",
    "Category",
    "Customer",
    "CustomerEvent",
    "Delivery",
    "DeliveryEvent",
    "Device",
    "ExpansionJob",
    "InboundReply",
    "LoginThrottle",
    "Message",
    "Notification",
    "PermissionEntry",
    "PermissionState",
    "Preference",
    "Staff",
    "StatsDay",
    "StatsDayLean",
    "StatsDelta",
    "StatsHour",
    "StatsHourLean",
    "StatsPruned",
    "StatsQuarter",
    "Suppression",
    "Template",
    "Webhook",
    "WebhookDelivery",
]
