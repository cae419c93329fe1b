from tortoise import migrations
from tortoise.migrations import operations as ops

from tidings.core.crypto.fields import (
    AddressKeysField,
    BlindIndexField,
    NameWordsField,
    EncryptedJSONField,
    EncryptedTextField,
)
from tidings.core.crypto.upgrade import ToCiphertext, encrypt_plain_rows, index_blind_indexes


class Migration(migrations.Migration):
    dependencies = [('models', '0014_data_rights')]

    initial = False

    operations = [
        ToCiphertext(
            model_name='Customer',
            name='attributes',
            field=EncryptedJSONField(default=dict, unique=False),
            table='customers', column='attributes',
        ),
        ToCiphertext(
            model_name='Customer',
            name='email',
            field=EncryptedTextField(null=True, unique=False),
            table='customers', column='email',
        ),
        ToCiphertext(
            model_name='Customer',
            name='name',
            field=EncryptedTextField(null=True, unique=False),
            table='customers', column='name',
        ),
        ToCiphertext(
            model_name='Customer',
            name='phone',
            field=EncryptedTextField(null=True, unique=False),
            table='customers', column='phone',
        ),
        ops.AddField(
            model_name='Customer',
            name='email_index',
            field=BlindIndexField(null=True, db_index=True, source='email', kind='email'),
        ),
        ops.AddField(
            model_name='Customer',
            name='name_index',
            field=BlindIndexField(null=True, db_index=True, source='name', kind='name'),
        ),
        ops.AddField(
            model_name='Customer',
            name='phone_index',
            field=BlindIndexField(null=True, db_index=True, source='phone', kind='phone'),
        ),
        ops.AddField(
            model_name='Customer',
            name='name_words',
            field=NameWordsField(null=True, source='name'),
        ),
        ops.AddField(
            model_name='Customer',
            name='address_keys',
            field=AddressKeysField(null=True, source='attributes'),
        ),
        ops.AlterModelOptions(
            name='Device',
            options={'table': 'devices', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A push target: an FCM registration token, encrypted, never returned by the API.'},
        ),
        ToCiphertext(
            model_name='Device',
            name='token',
            field=EncryptedTextField(unique=False),
            table='devices', column='token',
        ),
        ToCiphertext(
            model_name='PermissionEntry',
            name='evidence',
            field=EncryptedJSONField(null=True, unique=False),
            table='permission_entries', column='evidence',
        ),
        ops.RunPython(index_blind_indexes),
        ops.RunPython(encrypt_plain_rows),
    ]
