"""Customer events (conversions and other behaviour), outbound webhooks and their outbox."""

from tortoise import fields
from tortoise.models import Model

from tidings.core.enums import WebhookDeliveryStatus
from tidings.core.ids import new_id
from tidings.core.models.customers import Customer


class CustomerEvent(Model):
    """Something a customer did that the company counts (a purchase, a signup), recorded by
    `recordEvent`; later features (tiers from behaviour, churn, timelines) read this table."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, on_delete=fields.CASCADE
    )
    type = fields.CharField(max_length=64)
    value = fields.DecimalField(max_digits=18, decimal_places=4, null=True)
    currency = fields.CharField(max_length=3, null=True)
    occurred_at = fields.DatetimeField()
    recorded_at = fields.DatetimeField(auto_now_add=True)
    # Unique per customer: the same key again returns the first event.
    idempotency_key = fields.CharField(max_length=255)
    request_hash = fields.CharField(max_length=64)
    # The customer's last clicked (else opened) delivery within the attribution window.
    attributed_delivery_id = fields.UUIDField(null=True)
    attributed_message_id = fields.UUIDField(null=True)
    # Who recorded it: "staff:<id>", "api_key:<id>".
    source = fields.CharField(max_length=64)

    class Meta:
        table = "customer_events"
        unique_together = (("customer_id", "idempotency_key"),)
        indexes = (("customer_id", "occurred_at"),)

    def __repr__(self) -> str:
        return f"<CustomerEvent {self.id} {self.type}>"


class Webhook(Model):
    """An endpoint of the company's own systems that hears about events it subscribed to."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    url = fields.CharField(max_length=2048)
    # WebhookEventType values, as ",A,B,": each between commas (no JSON filter on SQLite).
    events = fields.CharField(max_length=255)
    # Signs every request (HMAC-SHA256); shown once, at creation, never returned or logged.
    secret = fields.CharField(max_length=128)
    created_by = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    deleted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhooks"

    def __repr__(self) -> str:  # the URL may carry a token in its path; the secret never prints
        return f"<Webhook {self.id}>"

    @property
    def event_types(self) -> list[str]:
        return [e for e in self.events.split(",") if e]


class WebhookDelivery(Model):
    """The outbox: one event for one webhook, written with the change where the code allows,
    claimed under a lease by the dispatcher and retried with capped exponential backoff."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    webhook: fields.ForeignKeyRelation[Webhook] = fields.ForeignKeyField(
        "models.Webhook", related_name=False, on_delete=fields.CASCADE
    )
    # Stable across retries, and the same for every webhook hearing the same event.
    event_id = fields.UUIDField()
    event_type = fields.CharField(max_length=32)
    # The exact JSON body sent every time (ids only: no addresses, phones or text).
    body = fields.TextField()
    status = fields.CharEnumField(WebhookDeliveryStatus, max_length=16)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    locked_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=255, null=True)
    last_status_code = fields.IntField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "webhook_deliveries"
        indexes = (("status", "next_attempt_at"), ("webhook_id", "id"))

    def __repr__(self) -> str:
        return f"<WebhookDelivery {self.id} {self.event_type} {self.status}>"
