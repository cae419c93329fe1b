from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from tidings.core.db import AlterEnumChoices
from tidings.core.enums import DeliveryStatus


# Customers gain the erasure's timestamps (core/services/erasure.py); DeliveryStatus gains
# CANCELLED: the VARCHAR(16) column is unchanged (no rebuild, so the stats triggers stay);
# stats_pruned keeps the counts of pruned deliveries (core/services/retention.py).
class Migration(migrations.Migration):
    dependencies = [("models", "0013_account_security")]

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
        ops.CreateModel(
            name="StatsPruned",
            fields=[
                ("bucket", fields.BigIntField()),
                ("category", fields.CharField(max_length=64)),
                ("channel", fields.CharField(max_length=64)),
                ("tier", fields.CharField(max_length=16)),
                ("reason", fields.CharField(max_length=32)),
                ("attempted", fields.BigIntField(default=0)),
                ("suppressed", fields.BigIntField(default=0)),
                ("deferred", fields.BigIntField(default=0)),
                ("sent", fields.BigIntField(default=0)),
                ("delivered", fields.BigIntField(default=0)),
                ("unconfirmed", fields.BigIntField(default=0)),
                ("failed", fields.BigIntField(default=0)),
                ("bounced", fields.BigIntField(default=0)),
                ("complained", fields.BigIntField(default=0)),
                ("opened", fields.BigIntField(default=0)),
                ("clicked", fields.BigIntField(default=0)),
                ("converted", fields.BigIntField(default=0)),
                ("unsubscribed", fields.BigIntField(default=0)),
                ("revenue", fields.BigIntField(default=0)),
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("message_id", fields.UUIDField()),
            ],
            options={
                "table": "stats_pruned",
                "app": "models",
                "pk_attr": "id",
                "table_description": "What retention pruning deleted, as counts: deliveries gone, still counted.",
            },
            bases=["StatsCounts"],
        ),
    ]
