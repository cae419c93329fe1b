"""The typed per-operation context every resolver receives, and the `Info` alias."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeAlias

from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from tidings.core.models import (
    Customer,
    Device,
    PermissionEntry,
    Staff,
)
from tidings.core.services import Services
from tidings.core.services.consent import PreferenceRow, StateRow
from tidings.core.tokens import TokenSigner
from tidings.core.viewer import Viewer
from tidings.schema.errors import UnauthenticatedGraphQLError


class Loaders:
    """Batching loaders, one set per operation, so no resolver issues a query per row."""

    def __init__(self, services: Services, viewer: Viewer | None) -> None:
        async def customers(ids: list[uuid.UUID]) -> list[Customer | None]:
            found = await services.customers.get_many(viewer, ids) if viewer else {}
            return [found.get(i) for i in ids]

        async def staff(ids: list[uuid.UUID]) -> list[Staff | None]:
            found = await services.staff.get_many(ids)
            return [found.get(i) for i in ids]

        self.customers: DataLoader[uuid.UUID, Customer | None] = DataLoader(customers)
        self.staff: DataLoader[uuid.UUID, Staff | None] = DataLoader(staff)
        self.delivery_counts: DataLoader[uuid.UUID, list] = DataLoader(services.messages.counts_for)
        self.grants: DataLoader[uuid.UUID, list[StateRow]] = DataLoader(services.consent.states_for)
        self.preferences: DataLoader[uuid.UUID, list[PreferenceRow]] = DataLoader(
            services.consent.preferences_for
        )
        self.entries: DataLoader[uuid.UUID, PermissionEntry | None] = DataLoader(
            services.consent.entries_by_id
        )
        self.devices: DataLoader[uuid.UUID, list[Device]] = DataLoader(
            services.customers.devices_for
        )


@dataclass
class Context:
    services: Services
    signer: TokenSigner
    channels: dict[str, list[str]]
    max_page_size: int
    raw_viewer: Viewer | None = None
    auth_failed: bool = False
    request: Any = None
    response: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def viewer(self) -> Viewer:
        """The caller; raises UNAUTHENTICATED for anonymous or badly authenticated calls."""
        if self.raw_viewer is None:
            raise UnauthenticatedGraphQLError()
        return self.raw_viewer

    def wake_worker(self) -> None:
        """Tell an in-process worker there is work, so it need not wait for its next poll."""
        wake = self.extra.get("wake_worker")
        if wake is not None:
            wake()

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(self.services, self.raw_viewer)


Info: TypeAlias = StrawberryInfo[Context, None]
