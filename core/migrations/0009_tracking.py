from tortoise import fields, migrations
from tortoise.migrations import operations as ops


# Category.track_engagement (issue 12, item 9). New rows get False from the column's default;
# existing MARKETING categories then get True, the default a new MARKETING category gets.
class Migration(migrations.Migration):
    dependencies = [("models", "0008_suppressions")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Category",
            name="track_engagement",
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.RunSQL(
            "UPDATE categories SET track_engagement = TRUE WHERE kind = 'MARKETING'",
            reverse_sql="SELECT 1",
        ),
    ]
