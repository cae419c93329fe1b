"""Customers and their push devices."""

from tortoise import fields
from tortoise.models import Model

from tidings.core.enums import Platform, Tier
from tidings.core.ids import new_id


class Customer(Model):
    id = fields.UUIDField(primary_key=True, default=new_id)
    external_id = fields.CharField(max_length=255, unique=True)
    name = fields.CharField(max_length=255, null=True)
    email = fields.CharField(max_length=320, null=True, db_index=True)
    phone = fields.CharField(max_length=32, null=True, db_index=True)
    locale = fields.CharField(max_length=35, default="en")
    timezone = fields.CharField(max_length=64, default="UTC")
    tier = fields.CharEnumField(Tier, max_length=16, default=Tier.ORDINARY, db_index=True)
    attributes = fields.JSONField(default=dict)
    # Bumped to revoke every customer token issued so far.
    token_version = fields.IntField(default=0)
    # Set while an ADMIN has disabled the account: its tokens stop and nothing is sent to it.
    disabled_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "customers"

    def __repr__(self) -> str:  # no personal data in reprs
        return f"<Customer {self.id}>"


class Device(Model):
    """A push target: an FCM registration token. The token is never returned by the API."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="devices", on_delete=fields.CASCADE
    )
    platform = fields.CharEnumField(Platform, max_length=8)
    token = fields.CharField(max_length=4096)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(null=True)

    class Meta:
        table = "devices"

    def __repr__(self) -> str:
        return f"<Device {self.id}>"
