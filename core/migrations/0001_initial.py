from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tidings.core.ids import new_id
from tidings.core.enums import CategoryKind, Frequency, GrantStatus, Platform, Role, Tier
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='ApiKey',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=255)),
                ('role', fields.CharEnumField(description='ADMIN: ADMIN\nMARKETER: MARKETER\nAGENT: AGENT\nAUDITOR: AUDITOR', enum_type=Role, max_length=16)),
                ('prefix', fields.CharField(max_length=16)),
                ('key_hash', fields.CharField(unique=True, max_length=64)),
                ('created_by_id', fields.UUIDField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_keys', 'app': 'models', 'pk_attr': 'id', 'table_description': "A key for the company's back end. Only a SHA-256 of the secret is stored."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Category',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=255)),
                ('description', fields.TextField(null=True, unique=False)),
                ('kind', fields.CharEnumField(description='TRANSACTIONAL: TRANSACTIONAL\nMARKETING: MARKETING', enum_type=CategoryKind, max_length=16)),
                ('default_channels', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('respect_quiet_hours', fields.BooleanField()),
                ('required', fields.BooleanField(default=False)),
                ('fallback_channel', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'categories', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Customer',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('external_id', fields.CharField(unique=True, max_length=255)),
                ('name', fields.CharField(null=True, max_length=255)),
                ('email', fields.CharField(null=True, db_index=True, max_length=320)),
                ('phone', fields.CharField(null=True, db_index=True, max_length=32)),
                ('locale', fields.CharField(default='en', max_length=35)),
                ('timezone', fields.CharField(default='UTC', max_length=64)),
                ('tier', fields.CharEnumField(default=Tier.ORDINARY, db_index=True, description='HIGH_VALUE: HIGH_VALUE\nPOTENTIAL: POTENTIAL\nORDINARY: ORDINARY', enum_type=Tier, max_length=16)),
                ('attributes', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('token_version', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'customers', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Device',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='devices', on_delete=OnDelete.CASCADE)),
                ('platform', fields.CharEnumField(description='IOS: IOS\nANDROID: ANDROID\nWEB: WEB', enum_type=Platform, max_length=8)),
                ('token', fields.CharField(max_length=4096)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_seen_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'devices', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A push target: an FCM registration token. The token is never returned by the API.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PermissionEntry',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('channel', fields.CharField(max_length=64)),
                ('category', fields.CharField(max_length=64)),
                ('status', fields.CharEnumField(description='GRANTED: GRANTED\nWITHDRAWN: WITHDRAWN\nEXPIRED: EXPIRED', enum_type=GrantStatus, max_length=16)),
                ('source', fields.CharField(max_length=64)),
                ('evidence', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('granted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('withdrawn_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('recorded_by', fields.CharField(max_length=64)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'permission_entries', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'channel', 'category'])], 'pk_attr': 'id', 'table_description': 'One event in the consent ledger: a grant or a withdrawal. Never updated, never deleted.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PermissionState',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('channel', fields.CharField(max_length=64)),
                ('category', fields.CharField(max_length=64)),
                ('status', fields.CharEnumField(description='GRANTED: GRANTED\nWITHDRAWN: WITHDRAWN\nEXPIRED: EXPIRED', enum_type=GrantStatus, max_length=16)),
                ('source', fields.CharField(max_length=64)),
                ('granted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('withdrawn_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('entry_id', fields.UUIDField()),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'permission_states', 'app': 'models', 'unique_together': (('customer', 'channel', 'category'),), 'pk_attr': 'id', 'table_description': 'The current state per customer × channel × category: the latest ledger entry, folded.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Preference',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('category', fields.CharField(max_length=64)),
                ('channels', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('frequency', fields.CharEnumField(default=Frequency.REALTIME, description='REALTIME: REALTIME\nDAILY_DIGEST: DAILY_DIGEST\nWEEKLY_DIGEST: WEEKLY_DIGEST', enum_type=Frequency, max_length=16)),
                ('quiet_start', fields.CharField(null=True, max_length=5)),
                ('quiet_end', fields.CharField(null=True, max_length=5)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'preferences', 'app': 'models', 'unique_together': (('customer', 'category'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Staff',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('email', fields.CharField(unique=True, max_length=320)),
                ('password_hash', fields.CharField(max_length=255)),
                ('role', fields.CharEnumField(description='ADMIN: ADMIN\nMARKETER: MARKETER\nAGENT: AGENT\nAUDITOR: AUDITOR', enum_type=Role, max_length=16)),
                ('active', fields.BooleanField(default=True)),
                ('token_version', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_login_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'staff', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AccessGrant',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=new_id, unique=True, db_index=True)),
                ('staff', fields.ForeignKeyField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='access_grants', on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('actions', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'access_grants', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
