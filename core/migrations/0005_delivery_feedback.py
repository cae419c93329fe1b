from tortoise import migrations
from tortoise.migrations import operations as ops
from tidings.core.ids import new_id
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_preference_center')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DeliveryEvent',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('delivery', fields.ForeignKeyField('models.Delivery', source_field='delivery_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('permanent', fields.BooleanField(default=False)),
                ('detail', fields.TextField(null=True, unique=False)),
                ('provider', fields.CharField(max_length=64)),
                ('fingerprint', fields.CharField(unique=True, max_length=64)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'delivery_events', 'app': 'models', 'indexes': [Index(fields=['delivery_id', 'at'])], 'pk_attr': 'id', 'table_description': 'One piece of feedback a provider reported about a delivery, kept in order. The'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Delivery',
            name='clicked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Delivery',
            name='delivered_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Delivery',
            name='opened_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
