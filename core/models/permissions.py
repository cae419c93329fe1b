"""Permission grants (an append-only ledger plus its current state) and preferences."""

from tortoise import fields
from tortoise.models import Model

from tidings.core.crypto import EncryptedJSONField, EncryptedModel
from tidings.core.enums import Frequency, GrantStatus
from tidings.core.ids import new_id
from tidings.core.models.customers import Customer


class PermissionEntry(EncryptedModel):
    """One event in the consent ledger: a grant or a withdrawal. Never updated, never deleted."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, on_delete=fields.CASCADE
    )
    channel = fields.CharField(max_length=64)
    category = fields.CharField(max_length=64)
    status = fields.CharEnumField(GrantStatus, max_length=16)
    source = fields.CharField(max_length=64)
    evidence = EncryptedJSONField(null=True)  # may name an address or an IP: encrypted
    granted_at = fields.DatetimeField(null=True)
    withdrawn_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    # Who recorded it: "staff:<uuid>", "api_key:<uuid>" or "customer:<uuid>".
    recorded_by = fields.CharField(max_length=64)
    recorded_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "permission_entries"
        indexes = (("customer_id", "channel", "category"),)


class PermissionState(Model):
    """The current state per customer × channel × category: the latest ledger entry, folded."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, on_delete=fields.CASCADE
    )
    channel = fields.CharField(max_length=64)
    category = fields.CharField(max_length=64)
    status = fields.CharEnumField(GrantStatus, max_length=16)
    source = fields.CharField(max_length=64)
    granted_at = fields.DatetimeField(null=True)
    withdrawn_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    entry_id = fields.UUIDField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "permission_states"
        unique_together = (("customer", "channel", "category"),)


class Preference(Model):
    id = fields.UUIDField(primary_key=True, default=new_id)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, on_delete=fields.CASCADE
    )
    category = fields.CharField(max_length=64)
    channels = fields.JSONField(default=list)
    frequency = fields.CharEnumField(Frequency, max_length=16, default=Frequency.REALTIME)
    quiet_start = fields.CharField(max_length=5, null=True)
    quiet_end = fields.CharField(max_length=5, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "preferences"
        unique_together = (("customer", "category"),)
