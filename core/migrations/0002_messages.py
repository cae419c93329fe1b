from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tidings.core.ids import new_id
from tidings.core.enums import DeliveryStatus, MessageStatus, Tier
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('category', fields.CharField(max_length=64)),
                ('status', fields.CharEnumField(description='ACCEPTED: ACCEPTED\nEXPANDED: EXPANDED', enum_type=MessageStatus, max_length=16)),
                ('idempotency_scope', fields.CharField(max_length=64)),
                ('idempotency_key', fields.CharField(max_length=255)),
                ('request_hash', fields.CharField(max_length=64)),
                ('audience', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('channels', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('title', fields.TextField(null=True, unique=False)),
                ('body', fields.TextField(null=True, unique=False)),
                ('html', fields.TextField(null=True, unique=False)),
                ('data', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('schedule_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'messages', 'app': 'models', 'unique_together': (('idempotency_scope', 'idempotency_key'),), 'pk_attr': 'id', 'table_description': 'What a caller asked to send. Its deliveries are written in the same transaction.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Delivery',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('channel', fields.CharField(max_length=64)),
                ('status', fields.CharEnumField(description='SUPPRESSED: SUPPRESSED\nDEFERRED: DEFERRED\nQUEUED: QUEUED\nSENT: SENT\nDELIVERED: DELIVERED\nFAILED: FAILED', enum_type=DeliveryStatus, max_length=16)),
                ('reason', fields.CharField(null=True, max_length=32)),
                ('rules', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('attempts', fields.IntField(default=0)),
                ('not_before', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('provider', fields.CharField(null=True, max_length=64)),
                ('provider_id', fields.CharField(null=True, max_length=255)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'deliveries', 'app': 'models', 'indexes': [Index(fields=['status', 'not_before']), Index(fields=['customer_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'One recipient × channel: decided by the policy engine, then claimed by a worker.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ExpansionJob',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('tier', fields.CharEnumField(null=True, description='HIGH_VALUE: HIGH_VALUE\nPOTENTIAL: POTENTIAL\nORDINARY: ORDINARY', enum_type=Tier, max_length=16)),
                ('due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cursor', fields.UUIDField(null=True)),
                ('done', fields.BooleanField(default=False)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'expansion_jobs', 'app': 'models', 'pk_attr': 'id', 'table_description': "Expands a message's audience into deliveries in batches, by keyset over customer ids:"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('delivery_id', fields.UUIDField(unique=True)),
                ('category', fields.CharField(max_length=64)),
                ('title', fields.TextField(unique=False)),
                ('body', fields.TextField(unique=False)),
                ('data', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('read_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('archived_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notifications', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'archived_at', 'read_at'])], 'pk_attr': 'id', 'table_description': "One in-app notification in a customer's inbox."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Template',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('category', fields.CharField(max_length=64)),
                ('channel', fields.CharField(max_length=64)),
                ('locale', fields.CharField(max_length=35)),
                ('title', fields.TextField(unique=False)),
                ('body', fields.TextField(unique=False)),
                ('html', fields.TextField(null=True, unique=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'templates', 'app': 'models', 'unique_together': (('category', 'channel', 'locale'),), 'pk_attr': 'id', 'table_description': 'Content per category, channel and locale: Jinja2, sandboxed, HTML autoescaped.'},
            bases=['Model'],
        ),
    ]
