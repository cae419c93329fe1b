"""Writing deliveries in bulk: COPY and `UPDATE ... FROM unnest` on PostgreSQL, the ORM's
bulk_create and bulk_update elsewhere.

A fan-out writes millions of rows. On PostgreSQL they go to the driver as plain tuples through
`COPY` (a small batch: one multi-row INSERT) on the current transaction's connection, so the
rows commit (or roll back) with the rest of the batch; no model instance is built per row.
The rows are exactly those the ORM would write: same columns, same defaults, `rules` as the
same JSON.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import asyncpg
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.fields.data import JSON_DUMPS

from tidings.core.delivery.claims import is_postgres
from tidings.core.enums import Tier
from tidings.core.ids import new_id
from tidings.core.models.customers import Customer
from tidings.core.models.messages import Delivery
from tidings.core.policy import Decision, RuleOutcome, stored_rules

COLUMNS = (
    "id",
    "message_id",
    "customer_id",
    "channel",
    "status",
    "reason",
    "rules",
    "attempts",
    "not_before",
    "locked_until",
    "provider",
    "provider_id",
    "last_error",
    "tier",
    "created_at",
    "updated_at",
)


class RulesJson:
    """The stored JSON of a decision's rule outcomes, computed once per distinct sequence.

    Rule outcomes are shared objects (the engine caches them), so most decisions' rule tuples
    are made of a few recurring objects. The cache keeps the tuple each text was computed
    from, so the ids in its key stay valid. Whoever writes deliveries (the send service, the
    worker) builds one and keeps it; it is cleared whole when full."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._cache: dict[tuple[int, ...], tuple[str, tuple[RuleOutcome, ...]]] = {}

    def __call__(self, rules: tuple[RuleOutcome, ...]) -> str:
        key = tuple(map(id, rules))
        cached = self._cache.get(key)
        if cached is not None:
            return cached[0]
        if len(self._cache) >= self.max_entries:
            self._cache.clear()
        text = JSON_DUMPS(stored_rules(rules))
        self._cache[key] = (text, rules)
        return text


def delivery_row(
    message_id: uuid.UUID, customer_id: uuid.UUID, decision: Decision, tier: str | None
) -> Delivery:
    """One decided delivery as an unsaved row."""
    return Delivery(
        message_id=message_id,
        customer_id=customer_id,
        tier=tier,
        channel=decision.channel,
        status=decision.status,
        reason=decision.reason,
        rules=stored_rules(decision.rules),
        not_before=decision.not_before,
    )


async def write_decided(
    message_id: uuid.UUID,
    decided: Sequence[tuple[uuid.UUID, Decision]],
    rules_json: RulesJson,
    tiers: Mapping[uuid.UUID, str] | None = None,
) -> int:
    """Write one delivery row per (customer id, decision). Returns how many. `tiers`: each
    customer's tier now (kept on the row for the stats); those missing are read, in one
    query."""
    if not decided:
        return 0
    tiers = await _tiers(decided, tiers or {})
    if not is_postgres():
        await Delivery.bulk_create(
            [
                delivery_row(message_id, customer_id, decision, tiers.get(customer_id))
                for customer_id, decision in decided
            ],
            batch_size=1000,
        )
        return len(decided)
    now = datetime.now(UTC)
    records = [
        (
            new_id(),
            message_id,
            customer_id,
            decision.channel,
            decision.status.value,
            decision.reason,
            rules_json(decision.rules),
            0,
            decision.not_before,
            None,
            None,
            None,
            None,
            tiers.get(customer_id),
            now,
            now,
        )
        for customer_id, decision in decided
    ]
    async with connections.get("default").acquire_connection() as conn:
        try:
            if len(records) <= SMALL_BATCH:
                values = [value for record in records for value in record]
                await conn.execute(_insert_statement(len(records)), *values)
            else:
                await conn.copy_records_to_table("deliveries", records=records, columns=COLUMNS)
        except asyncpg.IntegrityConstraintViolationError as error:
            raise IntegrityError(error) from error
    return len(records)


# Up to this many rows go in one INSERT rather than COPY: COPY waits for the server twice
# (its start, then the data's end), an INSERT once, and a send to a customer or a few writes
# a handful of rows. Past it, COPY's cheaper per-row encoding wins.
SMALL_BATCH = 32


@functools.lru_cache(maxsize=SMALL_BATCH)
def _insert_statement(rows: int) -> str:
    """The INSERT of `rows` rows of COLUMNS, values as parameters: the server types each from
    its column, as COPY's introspection does."""
    width = len(COLUMNS)
    groups = (
        "(" + ", ".join(f"${i * width + j + 1}" for j in range(width)) + ")" for i in range(rows)
    )
    # Only placeholders and the fixed column names are interpolated.
    return f"INSERT INTO deliveries ({', '.join(COLUMNS)}) VALUES {', '.join(groups)}"  # noqa: S608


async def _tiers(
    decided: Sequence[tuple[uuid.UUID, Decision]], known: Mapping[uuid.UUID, str]
) -> Mapping[uuid.UUID, str]:
    missing = {customer_id for customer_id, _ in decided if customer_id not in known}
    if not missing:
        return known
    found = await Customer.filter(id__in=missing).values_list("id", "tier")
    return {**known, **{customer_id: Tier(tier).value for customer_id, tier in found}}


# The PostgreSQL array type of each column `update_rows` may write.
_PG_TYPES = {
    "status": "text",
    "reason": "text",
    "rules": "jsonb",
    "attempts": "int",
    "not_before": "timestamptz",
    "locked_until": "timestamptz",
    "provider": "text",
    "provider_id": "text",
    "last_error": "text",
    "updated_at": "timestamptz",
}


async def update_rows(rows: Sequence[Delivery], fields: Sequence[str]) -> None:
    """`Delivery.bulk_update(rows, fields=fields)`: the same columns with the same values (each
    field's own `to_db_value`; `updated_at` only when listed). On PostgreSQL
    one `UPDATE ... FROM unnest(...)` rather than a CASE per field and row."""
    if not rows:
        return
    if not is_postgres():
        await Delivery.bulk_update(rows, fields=list(fields))
        return
    unknown = [name for name in fields if name not in _PG_TYPES]
    if unknown:
        raise ValueError(f"update_rows cannot write {unknown}")
    fields_map = Delivery._meta.fields_map
    columns = [[row.id for row in rows]]
    for name in fields:
        field = fields_map[name]
        columns.append([field.to_db_value(getattr(row, name), row) for row in rows])
    arrays = ", ".join(
        f"${n}::{'text' if _PG_TYPES[name] == 'jsonb' else _PG_TYPES[name]}[]"
        for n, name in enumerate(fields, start=2)
    )
    assignments = ", ".join(
        f"{name} = v.{name}::jsonb" if _PG_TYPES[name] == "jsonb" else f"{name} = v.{name}"
        for name in fields
    )
    # Column names come from _PG_TYPES only; every value is a parameter.
    sql = (
        f"UPDATE deliveries AS d SET {assignments}"  # noqa: S608
        f" FROM unnest($1::uuid[], {arrays}) AS v(id, {', '.join(fields)})"
        " WHERE d.id = v.id"
    )
    await connections.get("default").execute_query(sql, columns)
