from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0011_stats')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditCheckpoint',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('entry_id', fields.BigIntField()),
                ('entry_hash', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('signature', fields.CharField(max_length=64)),
            ],
            options={'table': 'audit_checkpoints', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Where verification may start once older entries are pruned.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('action', fields.CharField(max_length=64)),
                ('actor_kind', fields.CharField(max_length=16)),
                ('actor_id', fields.UUIDField(null=True)),
                ('customer_id', fields.UUIDField(null=True)),
                ('targets', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('request_id', fields.CharField(null=True, max_length=64)),
                ('ip', fields.CharField(null=True, max_length=64)),
                ('prev_hash', fields.CharField(max_length=64)),
                ('hash', fields.CharField(unique=True, max_length=64)),
            ],
            options={'table': 'audit_entries', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'id']), Index(fields=['actor_id', 'id']), Index(fields=['action', 'id']), Index(fields=['at'])], 'pk_attr': 'id', 'table_description': 'One thing someone did or read, never updated and deleted only by retention pruning.'},
            bases=['Model'],
        ),
    ]
