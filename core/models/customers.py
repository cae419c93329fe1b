"""Customers and their push devices. Personal data is encrypted at rest (core/crypto): the
name, email, phone and attributes of a customer and a device's token; exact lookups go
through the blind indexes beside them."""

from tortoise import fields

from tidings.core.crypto import (
    AddressKeysField,
    BlindIndexField,
    EncryptedJSONField,
    EncryptedModel,
    EncryptedTextField,
)
from tidings.core.enums import Platform, Tier
from tidings.core.ids import new_id


class Customer(EncryptedModel):
    id = fields.UUIDField(primary_key=True, default=new_id)
    external_id = fields.CharField(max_length=255, unique=True)
    name = EncryptedTextField(null=True)
    email = EncryptedTextField(null=True)
    phone = EncryptedTextField(null=True)
    # Blind indexes (HMAC of the normalised value): exact search and lookups.
    name_index = BlindIndexField(source="name", kind="name", db_index=True)
    email_index = BlindIndexField(source="email", kind="email", db_index=True)
    phone_index = BlindIndexField(source="phone", kind="phone", db_index=True)
    locale = fields.CharField(max_length=35, default="en")
    timezone = fields.CharField(max_length=64, default="UTC")
    tier = fields.CharEnumField(Tier, max_length=16, default=Tier.ORDINARY, db_index=True)
    attributes = EncryptedJSONField(default=dict)
    # The names of the attributes holding an address (never their values), for SQL.
    address_keys = AddressKeysField(source="attributes")
    # Bumped to revoke every customer token issued so far.
    token_version = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "customers"

    def __repr__(self) -> str:  # no personal data in reprs
        return f"<Customer {self.id}>"


class Device(EncryptedModel):
    """A push target: an FCM registration token, encrypted, never returned by the API."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="devices", on_delete=fields.CASCADE
    )
    platform = fields.CharEnumField(Platform, max_length=8)
    token = EncryptedTextField()
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(null=True)

    class Meta:
        table = "devices"

    def __repr__(self) -> str:
        return f"<Device {self.id}>"
