"""Is a long-lived caller still allowed? Asked for every live event, batched per loop tick.

A websocket authenticates once, at `connection_init`, and may stay open for days. Before
each event reaches it, its caller is checked against the database again: the token not
expired, not revoked (token version), the customer not erased, the staff member still
active in the same role, the API key not revoked. The checks of all subscriptions that
wake in the same tick share one query per kind of caller.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from tortoise import connections

from tidings.core.live.batching import TickBatch
from tidings.core.models import ApiKey, Customer, Staff
from tidings.core.viewer import Viewer, ViewerKind

# A live batch re-checks up to a thousand customers at once: as raw SQL on PostgreSQL, since
# the ORM's building of a thousand-value IN and its per-value conversion cost more than the
# query itself. As `Customer.filter` (`LiveCustomers`): an erasure once started ends it all.
_PG_CUSTOMERS = (
    "SELECT id, token_version FROM customers"
    " WHERE id = ANY($1::uuid[]) AND erasure_started_at IS NULL"
)


async def _customers(ids: Sequence[uuid.UUID]) -> list[Any]:
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        _, found = await conn.execute_query(_PG_CUSTOMERS, [list(ids)])
        rows = {row[0]: row[1] for row in found}
    else:
        rows = dict(await Customer.filter(id__in=list(ids)).values_list("id", "token_version"))
    return [rows.get(i) for i in ids]


async def _staff(ids: Sequence[uuid.UUID]) -> list[Any]:
    rows = {
        row[0]: row[1:]
        for row in await Staff.filter(id__in=list(ids), active=True).values_list(
            "id", "token_version", "role"
        )
    }
    return [rows.get(i) for i in ids]


async def _api_keys(ids: Sequence[uuid.UUID]) -> list[Any]:
    rows = dict(
        await ApiKey.filter(id__in=list(ids), revoked_at__isnull=True).values_list("id", "role")
    )
    return [rows.get(i) for i in ids]


LOADERS = {ViewerKind.CUSTOMER: _customers, ViewerKind.STAFF: _staff, ViewerKind.API_KEY: _api_keys}


def verdict(viewer: Viewer, row: Any) -> Viewer | None:
    """`viewer` checked against its row as just read: a fresh copy (an agent's grants are
    reloaded on use), or None when it may no longer be served."""
    if viewer.expires_at is not None and time.time() >= viewer.expires_at:
        return None
    if viewer.kind is ViewerKind.CUSTOMER:
        allowed = row is not None and row == viewer.token_version
    elif viewer.kind is ViewerKind.STAFF:
        allowed = row is not None and row[0] == viewer.token_version and row[1] == viewer.role
    else:
        allowed = row is not None and row == viewer.role
    if not allowed:
        return None
    # A copy only to drop grants loaded for an earlier event: `replace` costs more than the
    # query's share per caller, for a thousand callers a batch.
    return viewer if viewer._access is None else replace(viewer, _access=None)


class CallerCheck:
    """One per process. Nothing is cached: every check reads the database. A subscriber's own
    checks are batched per loop tick (`recheck`); the bus checks all the subscribers an
    event batch reaches in one query per kind of caller (`recheck_many`)."""

    def __init__(self) -> None:
        self._loaders: dict[ViewerKind, TickBatch[uuid.UUID, Any]] = {
            kind: TickBatch(load) for kind, load in LOADERS.items()
        }

    async def recheck(self, viewer: Viewer) -> Viewer | None:
        if viewer.expires_at is not None and time.time() >= viewer.expires_at:
            return None
        return verdict(viewer, await self._loaders[viewer.kind].load(viewer.id))

    async def recheck_many(self, viewers: Sequence[Viewer]) -> list[Viewer | None]:
        ids: dict[ViewerKind, set[uuid.UUID]] = {}
        for viewer in viewers:
            ids.setdefault(viewer.kind, set()).add(viewer.id)
        rows: dict[tuple[ViewerKind, uuid.UUID], Any] = {}
        for kind, wanted in ids.items():
            ordered = list(wanted)
            for key, row in zip(ordered, await LOADERS[kind](ordered), strict=True):
                rows[(kind, key)] = row
        return [verdict(v, rows[(v.kind, v.id)]) for v in viewers]
