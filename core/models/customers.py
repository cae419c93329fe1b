"""Customers and their push devices. Personal data is encrypted at rest (core/crypto): the
name, email, phone and attributes of a customer and a device's token; exact lookups go
through the blind indexes beside them."""

from tortoise import fields
from tortoise.manager import Manager
from tortoise.queryset import QuerySet

from tidings.core.crypto import (
    AddressKeysField,
    BlindIndexField,
    EncryptedJSONField,
    EncryptedModel,
    EncryptedTextField,
    NameWordsField,
)
from tidings.core.enums import Platform, Tier
from tidings.core.ids import new_id


class LiveCustomers(Manager):
    """Customers whose erasure has not started: the only ones any lookup finds. An erased
    customer (core/services/erasure.py) reads as not found everywhere from its first step."""

    def get_queryset(self) -> QuerySet:
        return super().get_queryset().filter(erasure_started_at__isnull=True)


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
    # A blind index per word of the name: one word ("Amelia") finds "Amelia Hart".
    name_words = NameWordsField(source="name")
    locale = fields.CharField(max_length=35, default="en")
    timezone = fields.CharField(max_length=64, default="UTC")
    tier = fields.CharEnumField(Tier, max_length=16, default=Tier.ORDINARY, db_index=True)
    attributes = EncryptedJSONField(default=dict)
    # The names of the attributes holding an address (never their values), for SQL.
    address_keys = AddressKeysField(source="attributes")
    # Bumped to revoke every customer token issued so far.
    token_version = fields.IntField(default=0)
    # Set while an ADMIN has disabled the account: its tokens stop and nothing is sent to it.
    disabled_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # Erasure (core/services/erasure.py): asked for (by the customer, carried out after the
    # grace period), started (the customer is gone for every lookup), finished.
    erasure_requested_at = fields.DatetimeField(null=True)
    erasure_requested_by = fields.CharField(max_length=64, null=True)
    erasure_started_at = fields.DatetimeField(null=True)
    erased_at = fields.DatetimeField(null=True)
    # The reason ADMIN gave (eraseCustomer), or "requested" for the customer's own request.
    erasure_reason = fields.TextField(null=True)

    # Every customer, erased ones included: for the erasure itself and nothing else.
    everything = Manager()

    class Meta:
        table = "customers"
        manager = LiveCustomers()

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
