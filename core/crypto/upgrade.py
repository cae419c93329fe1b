"""The upgrade to encrypted columns (migration 0013): widen the columns to text, drop the
indexes over plain values, then encrypt the rows already there and fill the blind indexes.

Tortoise cannot alter a column's type by itself, so `ToCiphertext` records the new field in
the migration state and changes the column by hand: PostgreSQL gets `TEXT` (a JSON column's
value kept as its text); SQLite's columns already hold text of any length. The data step
runs exactly once, inside the migration, while every value is known to be plain text, with
the keyring the process was started with (`tidings migrate` installs it).
"""

from __future__ import annotations

import json
from typing import Any

from tortoise.migrations.operations import AlterField

from tidings.core.crypto.active import active_keyring
from tidings.core.crypto.fields import address_keys
from tidings.core.crypto.keyring import Keyring

# What 0013 encrypts: table → (columns holding text, columns holding JSON).
ENCRYPTED_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "customers": (("name", "email", "phone"), ("attributes",)),
    "devices": (("token",), ()),
    "permission_entries": ((), ("evidence",)),
}
# Blind index column → (its source column, the kind hashed).
INDEXES = {
    "name_index": ("name", "name"),
    "email_index": ("email", "email"),
    "phone_index": ("phone", "phone"),
}
# Devices keep their token's blind index in `token_hash` (unique: one device per token).
DEVICE_TOKEN = "device_token"
BATCH = 500


def dialect(client: Any) -> str:
    return "postgres" if client.capabilities.dialect == "postgres" else "sqlite"


class ToCiphertext(AlterField):
    """AlterField for a column that now holds ciphertext: TEXT, and no index over it."""

    def __init__(self, model_name: str, name: str, field: Any, table: str, column: str) -> None:
        super().__init__(model_name, name, field)
        self.table = table
        self.column = column

    async def database_forward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if state_editor is None:
            return
        client = state_editor.client
        if dialect(client) == "postgres":
            _, rows = await client.execute_query(
                "SELECT indexname FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE $2",
                [self.table, f"%({self.column})%"],
            )
            for row in rows:
                await client.execute_script(f'DROP INDEX IF EXISTS "{row["indexname"]}"')
            await client.execute_script(
                f'ALTER TABLE "{self.table}" ALTER COLUMN "{self.column}" TYPE TEXT '
                f'USING "{self.column}"::text'
            )
        else:
            _, rows = await client.execute_query(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                [self.table],
            )
            for row in rows:
                if row["sql"] and f'("{self.column}")' in row["sql"].replace(" ", ""):
                    await client.execute_script(f'DROP INDEX IF EXISTS "{row["name"]}"')

    async def database_backward(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("encrypted columns are not turned back into plain text")


async def _indexed(client: Any, table: str, column: str) -> bool:
    if dialect(client) == "postgres":
        _, rows = await client.execute_query(
            "SELECT indexname FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE $2",
            [table, f"%({column})%"],
        )
        return bool(rows)
    _, rows = await client.execute_query(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", [table]
    )
    return any(r["sql"] and f'("{column}")' in r["sql"].replace(" ", "") for r in rows)


async def index_blind_indexes(apps: Any, schema_editor: Any) -> None:
    """The blind indexes' own indexes: AddField with db_index=True creates none on SQLite."""
    client = schema_editor.client
    for column in INDEXES:
        if not await _indexed(client, "customers", column):
            await client.execute_script(
                f'CREATE INDEX "idx_customers_{column}" ON "customers" ("{column}")'
            )


async def encrypt_plain_rows(apps: Any, schema_editor: Any) -> None:
    """Encrypt every value written before 0013 and compute the blind indexes."""
    await encrypt_plain(schema_editor.client, active_keyring_or_none())


def active_keyring_or_none() -> Keyring | None:
    try:
        return active_keyring()
    except Exception:
        return None


async def encrypt_plain(client: Any, keyring: Keyring | None) -> int:
    """Encrypt the plain values of every table in ENCRYPTED_COLUMNS; returns rows changed."""
    postgres = dialect(client) == "postgres"
    changed = 0
    for table, (texts, jsons) in ENCRYPTED_COLUMNS.items():
        columns = (*texts, *jsons)
        last = None
        while True:
            where = "" if last is None else ("WHERE id > $1" if postgres else "WHERE id > ?")
            sql = (
                f'SELECT id, {", ".join(columns)} FROM "{table}" {where} ORDER BY id LIMIT {BATCH}'
            )
            _, rows = await client.execute_query(sql, [] if last is None else [last])
            if not rows:
                break
            if keyring is None:
                raise RuntimeError("rows to encrypt but no keyring: set TIDINGS_DATA_KEYS")
            for row in rows:
                values: dict[str, Any] = {}
                for column in columns:
                    plain = row[column]
                    if plain is None:
                        continue
                    if column in jsons and not isinstance(plain, str | bytes):
                        plain = json.dumps(plain, separators=(",", ":"), ensure_ascii=False)
                    elif column in jsons:
                        # Stored as JSON text already: re-serialise compactly.
                        plain = json.dumps(
                            json.loads(plain), separators=(",", ":"), ensure_ascii=False
                        )
                    text = plain.decode() if isinstance(plain, bytes) else str(plain)
                    values[column] = keyring.encrypt(text.encode(), table, column, row["id"])
                if table == "customers":
                    keys = address_keys(json.loads(row["attributes"] or "null"))
                    values["address_keys"] = None if keys is None else json.dumps(keys)
                    for index, (source, kind) in INDEXES.items():
                        plain = row[source]
                        values[index] = keyring.blind_index(kind, plain) if plain else None
                    values["name_words"] = keyring.name_words(row["name"])
                if table == "devices":  # a plain SHA-256 until now: keyed from here on
                    values["token_hash"] = keyring.blind_index(DEVICE_TOKEN, row["token"])
                if values:
                    await update_row(client, postgres, table, row["id"], values)
                    changed += 1
            last = rows[-1]["id"]
    return changed


async def update_row(
    client: Any, postgres: bool, table: str, row_id: Any, values: dict[str, Any]
) -> None:
    names = list(values)
    if postgres:
        sets = ", ".join(f'"{n}" = ${i}' for i, n in enumerate(names, 1))
        sql = f'UPDATE "{table}" SET {sets} WHERE id = ${len(names) + 1}'
    else:
        sets = ", ".join(f'"{n}" = ?' for n in names)
        sql = f'UPDATE "{table}" SET {sets} WHERE id = ?'
    await client.execute_query(sql, [*values.values(), row_id])
