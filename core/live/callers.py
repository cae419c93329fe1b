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
from typing import Any

from strawberry.dataloader import DataLoader

from tidings.core.models import ApiKey, Customer, Staff
from tidings.core.viewer import Viewer, ViewerKind


async def _customers(ids: Sequence[uuid.UUID]) -> list[Any]:
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


class CallerCheck:
    """One per process. `cache=False`: every check reads the database; only batching is shared."""

    def __init__(self) -> None:
        self._customers: DataLoader[uuid.UUID, Any] = DataLoader(_customers, cache=False)
        self._staff: DataLoader[uuid.UUID, Any] = DataLoader(_staff, cache=False)
        self._api_keys: DataLoader[uuid.UUID, Any] = DataLoader(_api_keys, cache=False)

    async def recheck(self, viewer: Viewer) -> Viewer | None:
        """A fresh copy of `viewer` (an agent's grants reloaded on use), or None when the
        caller may no longer be served."""
        if viewer.expires_at is not None and time.time() >= viewer.expires_at:
            return None
        if viewer.kind is ViewerKind.CUSTOMER:
            version = await self._customers.load(viewer.id)
            if version is None or version != viewer.token_version:
                return None
        elif viewer.kind is ViewerKind.STAFF:
            row = await self._staff.load(viewer.id)
            if row is None or row[0] != viewer.token_version or row[1] != viewer.role:
                return None
        else:
            role = await self._api_keys.load(viewer.id)
            if role is None or role != viewer.role:
                return None
        return Viewer(
            kind=viewer.kind,
            id=viewer.id,
            role=viewer.role,
            token_version=viewer.token_version,
            expires_at=viewer.expires_at,
        )
