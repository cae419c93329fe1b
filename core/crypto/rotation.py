"""`tidings rotate-keys`: every encrypted value moved under the newest data key (the first of
TIDINGS_DATA_KEYS), and, with `reindex`, every blind index computed again under the current
TIDINGS_BLIND_INDEX_KEY.

Rows are read in batches by keyset over the id, per table, and only rows with a value under
another key (or, reindexing, a stale index) are written, each batch in its own transaction.
Nothing is remembered between runs and nothing needs to be: a row once rewritten is under
the newest key, so a run interrupted anywhere (killed, or stopped by `max_batches`) is
finished by running it again, which skips what is done. Meanwhile every row decrypts, as the
old key stays in the keyring until the run has finished.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from tidings.core.crypto.keyring import Keyring
from tidings.core.crypto.upgrade import (
    DEVICE_TOKEN,
    ENCRYPTED_COLUMNS,
    INDEXES,
    dialect,
    update_row,
)

BATCH = 500
# The keyed hashes read beside the encrypted columns, to be computed again with `reindex`.
EXTRA_COLUMNS = {"customers": [*INDEXES, "name_words"], "devices": ["token_hash"]}


@dataclass
class RotationResult:
    scanned: int = 0
    rewritten: int = 0
    batches: int = 0
    finished: bool = False


async def count_rows() -> int:
    conn = connections.get("default")
    total = 0
    for table in ENCRYPTED_COLUMNS:
        _, rows = await conn.execute_query(f'SELECT count(*) AS n FROM "{table}"')
        total += int(rows[0]["n"])
    return total


def _rotated(keyring: Keyring, table: str, row: dict[str, Any], reindex: bool) -> dict[str, Any]:
    """The columns of `row` to write: values under an older key, stale blind indexes."""
    texts, jsons = ENCRYPTED_COLUMNS[table]
    changes: dict[str, Any] = {}
    plain: dict[str, str | None] = {}
    for column in (*texts, *jsons):
        stored = row[column]
        if stored is None:
            plain[column] = None
            continue
        if keyring.key_id_of(stored) == keyring.current.key_id and not reindex:
            continue
        value = keyring.decrypt(stored, table, column, row["id"])
        plain[column] = value.decode()
        if keyring.key_id_of(stored) != keyring.current.key_id:
            changes[column] = keyring.encrypt(value, table, column, row["id"])
    if reindex and table == "customers":
        for index, (source, kind) in INDEXES.items():
            value = plain.get(source)
            wanted = keyring.blind_index(kind, value) if value else None
            if row[index] != wanted:
                changes[index] = wanted
        words = keyring.name_words(plain.get("name"))
        if row["name_words"] != words:
            changes["name_words"] = words
    if reindex and table == "devices" and plain.get("token"):
        wanted = keyring.blind_index(DEVICE_TOKEN, plain["token"] or "")
        if row["token_hash"] != wanted:
            changes["token_hash"] = wanted
    return changes


async def rotate_keys(
    keyring: Keyring,
    *,
    reindex: bool = False,
    batch_size: int = BATCH,
    max_batches: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RotationResult:
    """Rewrite what is not under the newest key; stop after `max_batches` when given."""
    conn = connections.get("default")
    postgres = dialect(conn) == "postgres"
    total = await count_rows()
    result = RotationResult()
    for table, (texts, jsons) in ENCRYPTED_COLUMNS.items():
        columns = [*texts, *jsons, *EXTRA_COLUMNS.get(table, [])]
        last = None
        while True:
            if max_batches is not None and result.batches >= max_batches:
                return result
            where = "" if last is None else ("WHERE id > $1" if postgres else "WHERE id > ?")
            sql = (
                f'SELECT id, {", ".join(columns)} FROM "{table}" {where} '
                f"ORDER BY id LIMIT {int(batch_size)}"
            )
            _, rows = await conn.execute_query(sql, [] if last is None else [last])
            if not rows:
                break
            async with in_transaction() as tx:
                for row in rows:
                    changes = _rotated(keyring, table, dict(row), reindex)
                    if changes:
                        await update_row(tx, postgres, table, row["id"], changes)
                        result.rewritten += 1
            result.batches += 1
            result.scanned += len(rows)
            last = rows[-1]["id"]
            if progress is not None:
                progress(result.scanned, total)
    result.finished = True
    return result
