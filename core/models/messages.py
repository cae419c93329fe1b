"""Messages, their deliveries (the transactional outbox), tier expansion jobs, templates and
the in-app inbox."""

from tortoise import fields
from tortoise.models import Model

from tidings.core.enums import DeliveryStatus, MessageStatus, Tier
from tidings.core.ids import new_id
from tidings.core.models.customers import Customer


class Message(Model):
    """What a caller asked to send. Its deliveries are written in the same transaction."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    category = fields.CharField(max_length=64)
    # A `MessageKind` value: "send", or "confirmation" for the confirmed opt-in mail.
    kind = fields.CharField(max_length=16, default="send", db_default="send")
    status = fields.CharEnumField(MessageStatus, max_length=16)
    # Idempotency: the key is scoped to the caller ("staff:<id>", "api_key:<id>", ...).
    idempotency_scope = fields.CharField(max_length=64)
    idempotency_key = fields.CharField(max_length=255)
    request_hash = fields.CharField(max_length=64)
    audience = fields.JSONField()
    channels = fields.JSONField(null=True)
    title = fields.TextField(null=True)
    body = fields.TextField(null=True)
    html = fields.TextField(null=True)
    data = fields.JSONField(null=True)
    schedule_at = fields.DatetimeField(null=True)
    created_by = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "messages"
        unique_together = (("idempotency_scope", "idempotency_key"),)

    def __repr__(self) -> str:
        return f"<Message {self.id}>"


class Delivery(Model):
    """One recipient × channel: decided by the policy engine, then claimed by a worker."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="deliveries", on_delete=fields.CASCADE
    )
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, on_delete=fields.CASCADE
    )
    channel = fields.CharField(max_length=64)
    status = fields.CharEnumField(DeliveryStatus, max_length=16)
    # A `DeliveryReason` value. Kept a CharField: as a CharEnumField the migration would
    # rebuild the table on SQLite and lose its indexes. Code reads it as the enum.
    reason = fields.CharField(max_length=32, null=True)
    rules = fields.JSONField(default=list)
    attempts = fields.IntField(default=0)
    # Due time for QUEUED and DEFERRED rows; a worker's lease while it holds the row.
    not_before = fields.DatetimeField(null=True)
    locked_until = fields.DatetimeField(null=True)
    provider = fields.CharField(max_length=64, null=True)
    provider_id = fields.CharField(max_length=255, null=True)
    last_error = fields.TextField(null=True)  # for admins; never shown to customers
    # Where the retry budget (TIDINGS_DELIVERY_RETRY_FOR) starts when staff retried it;
    # null: at created_at.
    retry_from = fields.DatetimeField(null=True)
    # What providers heard back (`POST /feedback/<provider>`): the first time of each.
    delivered_at = fields.DatetimeField(null=True)
    opened_at = fields.DatetimeField(null=True)
    clicked_at = fields.DatetimeField(null=True)
    # The customer's tier when the delivery was decided (a Tier value): the stats group by
    # it, so a customer moving tier later does not move their history.
    tier = fields.CharField(max_length=16, null=True)
    # A conversion attributed to this delivery (the first), and the sum of their values.
    converted_at = fields.DatetimeField(null=True)
    revenue = fields.DecimalField(max_digits=18, decimal_places=4, null=True)
    # The customer withdrew through this delivery (its one-click unsubscribe link).
    unsubscribed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "deliveries"
        # (provider, provider_id): how a vendor's receipt finds its delivery.
        indexes = (
            ("status", "not_before"),
            ("customer_id", "created_at"),
            ("provider", "provider_id"),
        )

    def __repr__(self) -> str:
        return f"<Delivery {self.id} {self.channel} {self.status}>"


class DeliveryEvent(Model):
    """One piece of feedback a provider reported about a delivery, kept in order. The
    fingerprint (a hash of the delivery, kind, time and detail) makes a replay a no-op."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    delivery: fields.ForeignKeyRelation[Delivery] = fields.ForeignKeyField(
        "models.Delivery", related_name=False, on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=16)  # a FeedbackKind value
    at = fields.DatetimeField()
    permanent = fields.BooleanField(default=False)
    detail = fields.TextField(null=True)  # for admins; never shown to customers
    provider = fields.CharField(max_length=64)
    fingerprint = fields.CharField(max_length=64, unique=True)
    recorded_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "delivery_events"
        indexes = (("delivery_id", "at"),)


class InboundReply(Model):
    """A reply a provider heard that was handed on (a STOP, a START), kept so a vendor's
    retry of it is not acted on again after the customer has moved on (STOP, START, STOP,
    then the first START retried). Only a keyed digest is kept: no number, no text."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    provider = fields.CharField(max_length=64)
    digest = fields.CharField(max_length=64, db_index=True)
    # True when the vendor gave no id for the reply: it then matches a retry only for a while.
    windowed = fields.BooleanField()
    recorded_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "inbound_replies"


class ExpansionJob(Model):
    """Expands a message's audience into deliveries in batches, by keyset over customer ids:
    a tier, or a scheduled message's list once it is due."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name=False, on_delete=fields.CASCADE
    )
    tier = fields.CharEnumField(Tier, max_length=16, null=True)
    due_at = fields.DatetimeField(null=True)
    cursor = fields.UUIDField(null=True)
    done = fields.BooleanField(default=False)
    locked_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "expansion_jobs"


class Template(Model):
    """Content per category, channel and locale: Jinja2, sandboxed, HTML autoescaped."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    category = fields.CharField(max_length=64)
    channel = fields.CharField(max_length=64)
    locale = fields.CharField(max_length=35)
    title = fields.TextField()
    body = fields.TextField()
    html = fields.TextField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "templates"
        unique_together = (("category", "channel", "locale"),)


class Notification(Model):
    """One in-app notification in a customer's inbox."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, on_delete=fields.CASCADE
    )
    delivery_id = fields.UUIDField(unique=True)
    category = fields.CharField(max_length=64)
    title = fields.TextField()
    body = fields.TextField()
    data = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    read_at = fields.DatetimeField(null=True)
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notifications"
        indexes = (("customer_id", "archived_at", "read_at"),)
