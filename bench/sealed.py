"""Encrypted personal data in the benchmarks' data sets (core/crypto).

The loaders COPY plain rows for speed; `seal_all` then encrypts every encrypted column and
fills the blind indexes in one bulk UPDATE per table, under a fixed bench-only keyring that
every bench process (and the app settings it builds) shares. `TimedKeyring` counts the time
spent in AES and HMAC, so a figure can say what encryption costs in the same run.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import asyncpg

from tidings.core.crypto import Keyring, parse_data_keys, parse_index_key
from tidings.core.crypto.upgrade import ENCRYPTED_COLUMNS, INDEXES

# Bench-only keys (a scratch database, dropped after the run): never use them elsewhere.
DATA_KEYS = (
    "bench1:" + base64.b64encode(b"bench data key, scratch only..!"[:32].ljust(32, b"!")).decode()
)
INDEX_KEY = base64.b64encode(b"bench index key, scratch only..!"[:32].ljust(32, b"!")).decode()


class TimedKeyring(Keyring):
    """The keyring, adding up the seconds spent encrypting, decrypting and hashing."""

    seconds = 0.0
    calls = 0

    def encrypt(self, plaintext: bytes, table: str, column: str, row_id: object) -> str:
        started = time.perf_counter()
        try:
            return super().encrypt(plaintext, table, column, row_id)
        finally:
            TimedKeyring.seconds += time.perf_counter() - started
            TimedKeyring.calls += 1

    def decrypt(self, stored: str, table: str, column: str, row_id: object) -> bytes:
        started = time.perf_counter()
        try:
            return super().decrypt(stored, table, column, row_id)
        finally:
            TimedKeyring.seconds += time.perf_counter() - started
            TimedKeyring.calls += 1

    def blind_index(self, kind: str, value: str) -> str:
        started = time.perf_counter()
        try:
            return super().blind_index(kind, value)
        finally:
            TimedKeyring.seconds += time.perf_counter() - started
            TimedKeyring.calls += 1


KEYRING = TimedKeyring(parse_data_keys(DATA_KEYS), parse_index_key(INDEX_KEY))
# The same keys, untimed: for the bare baselines, which must decrypt to return the same data.
UNTIMED = Keyring(parse_data_keys(DATA_KEYS), parse_index_key(INDEX_KEY))


def bench_env() -> dict[str, str]:
    """The settings that make an app built by a benchmark use the bench keyring."""
    return {"TIDINGS_DATA_KEYS": DATA_KEYS, "TIDINGS_BLIND_INDEX_KEY": INDEX_KEY}


def _plain_json(value: Any) -> bytes:
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


async def seal_all(conn: asyncpg.Connection) -> None:
    """Encrypt every plain value the loaders wrote, and compute the blind indexes."""
    for table, (texts, jsons) in ENCRYPTED_COLUMNS.items():
        columns = [*texts, *jsons]
        rows = await conn.fetch(f'SELECT id, {", ".join(columns)} FROM "{table}"')
        if not rows:
            continue
        targets = columns + (list(INDEXES) if table == "customers" else [])
        values: dict[str, list] = {c: [] for c in targets}
        for row in rows:
            for column in columns:
                plain = row[column]
                if plain is None:
                    values[column].append(None)
                    continue
                raw = _plain_json(plain) if column in jsons else str(plain).encode()
                values[column].append(Keyring.encrypt(KEYRING, raw, table, column, row["id"]))
            if table == "customers":
                for index, (source, kind) in INDEXES.items():
                    plain = row[source]
                    values[index].append(
                        Keyring.blind_index(KEYRING, kind, plain) if plain else None
                    )
        sets = ", ".join(f'"{c}" = u."{c}"' for c in targets)
        unnest = ", ".join(f"${n}::text[]" for n in range(2, len(targets) + 2))
        names = ", ".join(f'"{c}"' for c in targets)
        await conn.execute(
            f'UPDATE "{table}" t SET {sets} FROM unnest($1::uuid[], {unnest}) '
            f"AS u(id, {names}) WHERE t.id = u.id",
            [row["id"] for row in rows],
            *(values[c] for c in targets),
        )


def decrypted(stored: str, table: str, column: str, row_id: object) -> str:
    """A value a loader reads back with plain SQL (not counted as the service's work)."""
    return UNTIMED.decrypt(stored, table, column, row_id).decode()


def opened(stored: str | None, table: str, column: str, row_id: object) -> str | None:
    return None if stored is None else decrypted(stored, table, column, row_id)
