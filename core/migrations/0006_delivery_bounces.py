from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from tidings.core.enums import DeliveryStatus


class AlterEnumChoices(ops.AlterField):
    """DeliveryStatus gains BOUNCED and COMPLAINED: the column (VARCHAR(16)) is unchanged, only
    the field's recorded choices move on. A plain AlterField would rebuild the deliveries table
    on SQLite (as 0004 explains for the ledger) and drop its indexes."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [("models", "0005_delivery_feedback")]

    initial = False

    operations = [
        AlterEnumChoices(
            model_name="Delivery",
            name="status",
            field=fields.CharEnumField(
                description="SUPPRESSED: SUPPRESSED\nDEFERRED: DEFERRED\nQUEUED: QUEUED\n"
                "SENT: SENT\nDELIVERED: DELIVERED\nFAILED: FAILED\nBOUNCED: BOUNCED\n"
                "COMPLAINED: COMPLAINED",
                enum_type=DeliveryStatus,
                max_length=16,
            ),
        ),
    ]
