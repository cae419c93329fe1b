from tortoise import fields, migrations

from tidings.core.db import AlterEnumChoices
from tidings.core.enums import DeliveryStatus


# DeliveryStatus gains BOUNCED and COMPLAINED: the VARCHAR(16) column is unchanged (no rebuild).
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
