from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from tidings.core.db import AlterEnumChoices
from tidings.core.enums import GrantStatus


# GrantStatus gains PENDING: the VARCHAR(16) column is unchanged (no rebuild of the ledger).
STATUS = fields.CharEnumField(
    description="GRANTED: GRANTED\nWITHDRAWN: WITHDRAWN\nEXPIRED: EXPIRED\nPENDING: PENDING",
    enum_type=GrantStatus,
    max_length=16,
)


class Migration(migrations.Migration):
    dependencies = [("models", "0003_delivery_retry_from")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Category",
            name="confirm_email",
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name="Message",
            name="kind",
            field=fields.CharField(default="send", db_default="send", max_length=16),
        ),
        AlterEnumChoices(model_name="PermissionEntry", name="status", field=STATUS),
        AlterEnumChoices(model_name="PermissionState", name="status", field=STATUS),
    ]
