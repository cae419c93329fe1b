from tortoise import migrations
from tortoise.migrations import operations as ops
from tidings.core.enums import SuppressionReason
from tidings.core.ids import new_id
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_inbound_replies')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BounceTally',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=64)),
                ('address_hash', fields.CharField(max_length=64)),
                ('soft_count', fields.IntField(default=0)),
                ('first_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'bounce_tallies', 'app': 'models', 'unique_together': (('channel', 'address_hash'),), 'pk_attr': 'id', 'table_description': 'The current run of soft bounces of one address on one channel.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Suppression',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=64)),
                ('address_hash', fields.CharField(max_length=64)),
                ('reason', fields.CharEnumField(description='HARD_BOUNCE: HARD_BOUNCE\nSOFT_BOUNCES: SOFT_BOUNCES', enum_type=SuppressionReason, max_length=16)),
                ('delivery_id', fields.UUIDField(null=True)),
                ('provider', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('lifted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lifted_by', fields.CharField(null=True, max_length=64)),
                ('lift_reason', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'suppressions', 'app': 'models', 'indexes': [Index(fields=['address_hash', 'channel'])], 'pk_attr': 'id', 'table_description': 'An address stopped on a channel, in force while `lifted_at` is null.'},
            bases=['Model'],
        ),
    ]
