"""Personal data encrypted at rest: the keyring, encrypted model fields, blind indexes."""

from tidings.core.crypto.active import active_keyring, install_keyring
from tidings.core.crypto.fields import (
    AddressKeysField,
    BlindIndexField,
    EncryptedJSONField,
    EncryptedModel,
    EncryptedTextField,
    NameWordsField,
    decrypt_json,
    decrypt_text,
)
from tidings.core.crypto.keyring import (
    DataKey,
    Keyring,
    KeyringError,
    new_key_text,
    parse_data_keys,
    parse_index_key,
)

__all__ = [
    "AddressKeysField",
    "BlindIndexField",
    "DataKey",
    "EncryptedJSONField",
    "EncryptedModel",
    "EncryptedTextField",
    "Keyring",
    "KeyringError",
    "NameWordsField",
    "active_keyring",
    "decrypt_json",
    "decrypt_text",
    "install_keyring",
    "new_key_text",
    "parse_data_keys",
    "parse_index_key",
]
