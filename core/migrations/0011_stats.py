from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from tidings.core.stats.fold import QUARTER_KEY, _upsert, level_upserts
from tidings.core.stats.triggers import contributions_sql, trigger_sql


async def install_stats(apps, schema_editor) -> None:
    """Each delivery's tier as it is now (the best guess for the past), the triggers, and
    the rollups of the deliveries already there."""
    client = schema_editor.client
    dialect = "postgres" if client.capabilities.dialect == "postgres" else "sqlite"
    await client.execute_script(
        "UPDATE deliveries SET tier = "
        "(SELECT tier FROM customers c WHERE c.id = deliveries.customer_id)"
    )
    for sql in trigger_sql(dialect):
        await client.execute_script(sql)
    source = f"({contributions_sql(dialect)})"
    await client.execute_script(_upsert("stats_quarters", QUARTER_KEY, source, None))
    for sql in level_upserts("stats_quarters"):
        await client.execute_script(sql)


async def remove_stats(apps, schema_editor) -> None:
    client = schema_editor.client
    for name in ("insert", "update", "delete"):
        if client.capabilities.dialect == "postgres":
            await client.execute_script(
                f"DROP TRIGGER IF EXISTS tidings_stats_{name} ON deliveries"
            )
            await client.execute_script(f"DROP FUNCTION IF EXISTS tidings_stats_{name}()")
        else:
            await client.execute_script(f"DROP TRIGGER IF EXISTS tidings_stats_{name}")


class Migration(migrations.Migration):
    dependencies = [("models", "0010_events_webhooks")]

    initial = False

    operations = [
        ops.CreateModel(
            name="StatsDay",
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
            ],
            options={
                "table": "stats_days",
                "app": "models",
                "unique_together": (("bucket", "category", "channel", "tier", "reason"),),
                "pk_attr": "id",
                "table_description": "Counts per UTC day.",
            },
            bases=["StatsCounts"],
        ),
        ops.CreateModel(
            name="StatsDelta",
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
                "table": "stats_deltas",
                "app": "models",
                "indexes": [Index(fields=["bucket"])],
                "pk_attr": "id",
                "table_description": "A change to one group's counts, written by the deliveries trigger, not yet folded.",
            },
            bases=["StatsCounts"],
        ),
        ops.CreateModel(
            name="StatsHour",
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
            ],
            options={
                "table": "stats_hours",
                "app": "models",
                "unique_together": (("bucket", "category", "channel", "tier", "reason"),),
                "pk_attr": "id",
                "table_description": "Counts per UTC hour.",
            },
            bases=["StatsCounts"],
        ),
        ops.CreateModel(
            name="StatsQuarter",
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
                "table": "stats_quarters",
                "app": "models",
                "unique_together": (
                    ("bucket", "message_id", "category", "channel", "tier", "reason"),
                ),
                "pk_attr": "id",
                "table_description": "Counts per quarter hour and message: the edges of odd time zones, and MESSAGE.",
            },
            bases=["StatsCounts"],
        ),
        ops.AddField(
            model_name="Delivery",
            name="converted_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="Delivery",
            name="revenue",
            field=fields.DecimalField(null=True, max_digits=18, decimal_places=4),
        ),
        ops.AddField(
            model_name="Delivery",
            name="tier",
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name="Delivery",
            name="unsubscribed_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.CreateModel(
            name='StatsDayLean',
            fields=[
                ('bucket', fields.BigIntField()),
                ('category', fields.CharField(max_length=64)),
                ('channel', fields.CharField(max_length=64)),
                ('tier', fields.CharField(max_length=16)),
                ('reason', fields.CharField(max_length=32)),
                ('attempted', fields.BigIntField(default=0)),
                ('suppressed', fields.BigIntField(default=0)),
                ('deferred', fields.BigIntField(default=0)),
                ('sent', fields.BigIntField(default=0)),
                ('delivered', fields.BigIntField(default=0)),
                ('unconfirmed', fields.BigIntField(default=0)),
                ('failed', fields.BigIntField(default=0)),
                ('bounced', fields.BigIntField(default=0)),
                ('complained', fields.BigIntField(default=0)),
                ('opened', fields.BigIntField(default=0)),
                ('clicked', fields.BigIntField(default=0)),
                ('converted', fields.BigIntField(default=0)),
                ('unsubscribed', fields.BigIntField(default=0)),
                ('revenue', fields.BigIntField(default=0)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
            ],
            options={'table': 'stats_days_lean', 'app': 'models', 'unique_together': (('bucket', 'category', 'channel', 'tier', 'reason'),), 'pk_attr': 'id', 'table_description': 'Counts per UTC day without tier and reason (both "").'},
            bases=['StatsCounts'],
        ),
        ops.CreateModel(
            name='StatsHourLean',
            fields=[
                ('bucket', fields.BigIntField()),
                ('category', fields.CharField(max_length=64)),
                ('channel', fields.CharField(max_length=64)),
                ('tier', fields.CharField(max_length=16)),
                ('reason', fields.CharField(max_length=32)),
                ('attempted', fields.BigIntField(default=0)),
                ('suppressed', fields.BigIntField(default=0)),
                ('deferred', fields.BigIntField(default=0)),
                ('sent', fields.BigIntField(default=0)),
                ('delivered', fields.BigIntField(default=0)),
                ('unconfirmed', fields.BigIntField(default=0)),
                ('failed', fields.BigIntField(default=0)),
                ('bounced', fields.BigIntField(default=0)),
                ('complained', fields.BigIntField(default=0)),
                ('opened', fields.BigIntField(default=0)),
                ('clicked', fields.BigIntField(default=0)),
                ('converted', fields.BigIntField(default=0)),
                ('unsubscribed', fields.BigIntField(default=0)),
                ('revenue', fields.BigIntField(default=0)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
            ],
            options={'table': 'stats_hours_lean', 'app': 'models', 'unique_together': (('bucket', 'category', 'channel', 'tier', 'reason'),), 'pk_attr': 'id', 'table_description': 'Counts per UTC hour without tier and reason (both ""): what most queries group by'},
            bases=['StatsCounts'],
        ),
        ops.RunPython(install_stats, remove_stats),
    ]
