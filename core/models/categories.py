"""Message categories: what a message is about, and how it may be sent."""

from tortoise import fields
from tortoise.models import Model

from tidings.core.enums import CategoryKind
from tidings.core.ids import new_id


class Category(Model):
    id = fields.UUIDField(primary_key=True, default=new_id)
    key = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=255)
    description = fields.TextField(null=True)
    kind = fields.CharEnumField(CategoryKind, max_length=16)
    default_channels = fields.JSONField(default=list)
    respect_quiet_hours = fields.BooleanField()
    required = fields.BooleanField(default=False)
    fallback_channel = fields.CharField(max_length=64, null=True)
    # Confirmed opt-in: an email grant starts PENDING until the customer confirms it.
    confirm_email = fields.BooleanField(default=False, db_default=False)
    # Engagement tracking on email (open pixel, tracked links): MARKETING on, TRANSACTIONAL
    # off unless given. db_default for rows made before it; migration 0009 sets them by kind.
    track_engagement = fields.BooleanField(default=False, db_default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "categories"
