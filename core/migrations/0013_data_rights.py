from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from tidings.core.db import AlterEnumChoices
from tidings.core.enums import DeliveryStatus


# Customers gain the erasure's timestamps (core/services/erasure.py); DeliveryStatus gains
# CANCELLED: the VARCHAR(16) column is unchanged (no rebuild, so the stats triggers stay).
class Migration(migrations.Migration):
    dependencies = [("models", "0012_audit")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Customer",
            name="erased_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="Customer",
            name="erasure_reason",
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name="Customer",
            name="erasure_requested_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="Customer",
            name="erasure_requested_by",
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name="Customer",
            name="erasure_started_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        AlterEnumChoices(
            model_name="Delivery",
            name="status",
            field=fields.CharEnumField(
                description="SUPPRESSED: SUPPRESSED\nDEFERRED: DEFERRED\nQUEUED: QUEUED\n"
                "SENT: SENT\nDELIVERED: DELIVERED\nFAILED: FAILED\nBOUNCED: BOUNCED\n"
                "COMPLAINED: COMPLAINED\nCANCELLED: CANCELLED",
                enum_type=DeliveryStatus,
                max_length=16,
            ),
        ),
    ]
