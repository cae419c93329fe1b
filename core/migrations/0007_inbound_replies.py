from tortoise import migrations
from tortoise.migrations import operations as ops
from tidings.core.ids import new_id
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_delivery_bounces')]

    initial = False

    operations = [
        ops.CreateModel(
            name='InboundReply',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('provider', fields.CharField(max_length=64)),
                ('digest', fields.CharField(db_index=True, max_length=64)),
                ('windowed', fields.BooleanField()),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'inbound_replies', 'app': 'models', 'pk_attr': 'id', 'table_description': "A reply a provider heard that was handed on (a STOP, a START), kept so a vendor's"},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Delivery',
            index=Index(fields=['provider', 'provider_id']),
        ),
    ]
