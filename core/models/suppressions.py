"""Suppressed addresses and the soft-bounce runs that lead to them, kept by keyed hash only
(core/address_hash.py): no address, no customer, so they outlive an erased customer."""

from tortoise import fields
from tortoise.models import Model

from tidings.core.enums import SuppressionReason
from tidings.core.ids import new_id


class Suppression(Model):
    """An address stopped on a channel, in force while `lifted_at` is null.

    Lifting keeps the row (who, when, why), and a later bounce suppresses the address again
    in a row of its own."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    channel = fields.CharField(max_length=64)
    address_hash = fields.CharField(max_length=64)
    reason = fields.CharEnumField(SuppressionReason, max_length=16)
    # The delivery whose bounce decided it: kept as a bare id, so erasing the customer (and
    # with it the delivery) leaves the suppression in place.
    delivery_id = fields.UUIDField(null=True)
    provider = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    lifted_at = fields.DatetimeField(null=True)
    lifted_by = fields.CharField(max_length=64, null=True)  # a Viewer.ref: "staff:<id>", ...
    lift_reason = fields.TextField(null=True)

    class Meta:
        table = "suppressions"
        indexes = (("address_hash", "channel"),)

    def __repr__(self) -> str:
        return f"<Suppression {self.id} {self.channel} {self.reason}>"


class BounceTally(Model):
    """The current run of soft bounces of one address on one channel.

    How many, and the first and last of them. Reset by a delivery between them, a hard bounce
    or a suppression. One row per address and channel, locked while a bounce is applied."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    channel = fields.CharField(max_length=64)
    address_hash = fields.CharField(max_length=64)
    soft_count = fields.IntField(default=0)
    first_at = fields.DatetimeField(null=True)
    last_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "bounce_tallies"
        unique_together = (("channel", "address_hash"),)

    def __repr__(self) -> str:
        return f"<BounceTally {self.id} {self.channel} {self.soft_count}>"
