"""The bare baseline: graphql-core with a hand-built schema of the same shape as Tidings'
`customers` connection, resolvers reading straight from asyncpg, three batched queries per page
(customers, their grants, their preferences). No ORM, no extensions, no permission classes."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
)

from bench import sealed


def _nn(t: Any) -> GraphQLNonNull:
    return GraphQLNonNull(t)


def _list(t: Any) -> GraphQLNonNull:
    return _nn(GraphQLList(_nn(t)))


def _enum(name: str, values: tuple[str, ...]) -> GraphQLEnumType:
    return GraphQLEnumType(name, {v: v for v in values})


def _global_id(type_name: str, item_id: uuid.UUID) -> str:
    return base64.b64encode(f"{type_name}:{item_id}".encode()).decode()


def _cursor(item_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(b"c:" + item_id.bytes).decode().rstrip("=")


def _decode_cursor(cursor: str) -> uuid.UUID:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    return uuid.UUID(bytes=raw[2:])


def _mask(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


DateTime = GraphQLScalarType("DateTime", serialize=lambda value: value.isoformat())


class PageLoads:
    """Per-operation batch loads: the first resolver that needs grants (or preferences) starts
    one query for the whole page; the others await the same task."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.ids: list[uuid.UUID] = []
        self._tasks: dict[str, asyncio.Task] = {}

    def _load(self, name: str, sql: str, shape: Callable[[asyncpg.Record], dict]) -> Awaitable:
        task = self._tasks.get(name)
        if task is None:

            async def run() -> dict[uuid.UUID, list[dict]]:
                grouped: dict[uuid.UUID, list[dict]] = {cid: [] for cid in self.ids}
                for row in await self.pool.fetch(sql, self.ids):
                    grouped[row["customer_id"]].append(shape(row))
                return grouped

            task = self._tasks[name] = asyncio.ensure_future(run())
        return task

    def grants(self) -> Awaitable:
        return self._load(
            "grants",
            "SELECT customer_id, channel, category, status, granted_at, expires_at"
            " FROM permission_states WHERE customer_id = ANY($1::uuid[])"
            " ORDER BY channel, category",
            _grant,
        )

    def preferences(self) -> Awaitable:
        return self._load(
            "preferences",
            "SELECT customer_id, category, channels, frequency, quiet_start, quiet_end"
            " FROM preferences WHERE customer_id = ANY($1::uuid[]) ORDER BY category",
            _preference,
        )


def _grant(row: asyncpg.Record) -> dict:
    status = row["status"]
    expires_at = row["expires_at"]
    if status == "GRANTED" and expires_at is not None and expires_at <= datetime.now(UTC):
        status = "EXPIRED"
    return {
        "channel": row["channel"],
        "category": row["category"],
        "status": status,
        "grantedAt": row["granted_at"],
        "expiresAt": expires_at,
    }


def _preference(row: asyncpg.Record) -> dict:
    start, end = row["quiet_start"], row["quiet_end"]
    return {
        "category": row["category"],
        "channels": row["channels"],
        "frequency": row["frequency"],
        "quietHours": {"start": start, "end": end} if start and end else None,
    }


async def resolve_customers(_: Any, info: Any, first: int = 20, after: str | None = None) -> dict:
    loads: PageLoads = info.context
    first = max(0, min(first, 100))
    if after is None:
        rows = await loads.pool.fetch(
            "SELECT id, external_id, name, email, locale, timezone, tier"
            " FROM customers ORDER BY id LIMIT $1",
            first + 1,
        )
    else:
        rows = await loads.pool.fetch(
            "SELECT id, external_id, name, email, locale, timezone, tier"
            " FROM customers WHERE id > $2 ORDER BY id LIMIT $1",
            first + 1,
            _decode_cursor(after),
        )
    page = [
        {
            **dict(row),
            "name": sealed.opened(row["name"], "customers", "name", row["id"]),
            "email": sealed.opened(row["email"], "customers", "email", row["id"]),
        }
        for row in rows[:first]
    ]
    loads.ids = [row["id"] for row in page]
    edges = [
        {
            "cursor": _cursor(row["id"]),
            "node": {
                "uuid": row["id"],
                "id": _global_id("Customer", row["id"]),
                "externalId": row["external_id"],
                "name": row["name"],
                "email": row["email"],
                "emailMasked": _mask(row["email"]),
                "tier": row["tier"],
                "locale": row["locale"],
                "timezone": row["timezone"],
            },
        }
        for row in page
    ]
    return {
        "edges": edges,
        "pageInfo": {
            "hasNextPage": len(rows) > first,
            "hasPreviousPage": after is not None,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


async def resolve_grants(customer: dict, info: Any) -> list[dict]:
    return (await info.context.grants())[customer["uuid"]]


async def resolve_preferences(customer: dict, info: Any) -> list[dict]:
    return (await info.context.preferences())[customer["uuid"]]


def build_schema() -> GraphQLSchema:
    grant = GraphQLObjectType(
        "PermissionGrant",
        {
            "channel": GraphQLField(_nn(GraphQLString)),
            "category": GraphQLField(_nn(GraphQLString)),
            "status": GraphQLField(_nn(_enum("GrantStatus", ("GRANTED", "WITHDRAWN", "EXPIRED")))),
            "grantedAt": GraphQLField(DateTime),
            "expiresAt": GraphQLField(DateTime),
        },
    )
    quiet = GraphQLObjectType(
        "QuietHours",
        {"start": GraphQLField(_nn(GraphQLString)), "end": GraphQLField(_nn(GraphQLString))},
    )
    preference = GraphQLObjectType(
        "Preference",
        {
            "category": GraphQLField(_nn(GraphQLString)),
            "channels": GraphQLField(_list(GraphQLString)),
            "frequency": GraphQLField(
                _nn(_enum("Frequency", ("REALTIME", "DAILY_DIGEST", "WEEKLY_DIGEST")))
            ),
            "quietHours": GraphQLField(quiet),
        },
    )
    customer = GraphQLObjectType(
        "Customer",
        {
            "id": GraphQLField(_nn(GraphQLID)),
            "externalId": GraphQLField(_nn(GraphQLString)),
            "name": GraphQLField(GraphQLString),
            "email": GraphQLField(GraphQLString),
            "emailMasked": GraphQLField(GraphQLString),
            "tier": GraphQLField(_nn(_enum("Tier", ("HIGH_VALUE", "POTENTIAL", "ORDINARY")))),
            "locale": GraphQLField(_nn(GraphQLString)),
            "timezone": GraphQLField(_nn(GraphQLString)),
            "permissionGrants": GraphQLField(_list(grant), resolve=resolve_grants),
            "preferences": GraphQLField(_list(preference), resolve=resolve_preferences),
        },
    )
    edge = GraphQLObjectType(
        "CustomerEdge",
        {"cursor": GraphQLField(_nn(GraphQLString)), "node": GraphQLField(_nn(customer))},
    )
    page_info = GraphQLObjectType(
        "PageInfo",
        {
            "hasNextPage": GraphQLField(_nn(GraphQLBoolean)),
            "hasPreviousPage": GraphQLField(_nn(GraphQLBoolean)),
            "startCursor": GraphQLField(GraphQLString),
            "endCursor": GraphQLField(GraphQLString),
        },
    )
    connection = GraphQLObjectType(
        "CustomerConnection",
        {"edges": GraphQLField(_list(edge)), "pageInfo": GraphQLField(_nn(page_info))},
    )
    query = GraphQLObjectType(
        "Query",
        {
            "customers": GraphQLField(
                _nn(connection),
                args={
                    "first": GraphQLArgument(GraphQLInt, default_value=20),
                    "after": GraphQLArgument(GraphQLString),
                },
                resolve=resolve_customers,
            )
        },
    )
    return GraphQLSchema(query=query)


async def create_pool(url: str) -> asyncpg.Pool:
    """Sized as tortoise sizes its pool (1 to 5); json/jsonb decode to Python values, as the
    ORM's do."""

    async def init(conn: asyncpg.Connection) -> None:
        for kind in ("json", "jsonb"):
            await conn.set_type_codec(
                kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
            )

    pool = await asyncpg.create_pool(url, min_size=1, max_size=5, init=init)
    assert pool is not None
    return pool
