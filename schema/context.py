"""The typed per-operation context every resolver receives, and the `Info` alias."""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeAlias

from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from tidings.core.delivery.feedback import events_for
from tidings.core.live.runtime import LiveRuntime
from tidings.core.models import (
    AuditEntry,
    Category,
    Customer,
    Delivery,
    DeliveryEvent,
    Device,
    Message,
    PermissionEntry,
    Staff,
)
from tidings.core.pagination import Page, PageKey
from tidings.core.services import Services
from tidings.core.services.consent import PreferenceRow, StateRow
from tidings.core.tokens import TokenSigner
from tidings.core.viewer import Viewer
from tidings.schema.errors import UnauthenticatedGraphQLError


class Loaders:
    """Batching loaders, one set per operation, so no resolver issues a query per row. Each is
    made on first use: a live event builds a set per subscriber and most use none."""

    def __init__(self, services: Services, viewer: Viewer | None) -> None:
        self._services = services
        self._viewer = viewer

    @cached_property
    def customers(self) -> DataLoader[uuid.UUID, Customer | None]:
        services, viewer = self._services, self._viewer

        async def load(ids: list[uuid.UUID]) -> list[Customer | None]:
            found = await services.customers.get_many(viewer, ids) if viewer else {}
            return [found.get(i) for i in ids]

        return DataLoader(load)

    @cached_property
    def staff(self) -> DataLoader[uuid.UUID, Staff | None]:
        services = self._services

        async def load(ids: list[uuid.UUID]) -> list[Staff | None]:
            found = await services.staff.get_many(ids)
            return [found.get(i) for i in ids]

        return DataLoader(load)

    @cached_property
    def delivery_counts(self) -> DataLoader[uuid.UUID, list]:
        return DataLoader(self._services.messages.counts_for)

    @cached_property
    def grants(self) -> DataLoader[uuid.UUID, list[StateRow]]:
        return DataLoader(self._services.consent.states_for)

    @cached_property
    def preferences(self) -> DataLoader[uuid.UUID, list[PreferenceRow]]:
        return DataLoader(self._services.consent.preferences_for)

    @cached_property
    def entries(self) -> DataLoader[uuid.UUID, PermissionEntry | None]:
        return DataLoader(self._services.consent.entries_by_id)

    @cached_property
    def permission_history(self) -> DataLoader[PageKey, Page[PermissionEntry]]:
        """A page of each customer's ledger: keyed by customer and page arguments, so the
        same connection under many aliases is read once."""
        return DataLoader(self._services.consent.histories)

    @cached_property
    def access_logs(self) -> DataLoader[PageKey, Page[AuditEntry]]:
        """A page of each customer's `customer.read` entries, keyed as `permission_history`."""
        return DataLoader(self._services.audit.access_logs)

    @cached_property
    def deliveries(self) -> DataLoader[PageKey, Page[Delivery]]:
        """A page of each message's deliveries, keyed as `permission_history`."""
        return DataLoader(self._services.messages.deliveries_for)

    @cached_property
    def delivery_events(self) -> DataLoader[uuid.UUID, list[DeliveryEvent]]:
        """Each delivery's feedback, in order: one statement for a page of deliveries."""
        return DataLoader(events_for)

    @cached_property
    def devices(self) -> DataLoader[uuid.UUID, list[Device]]:
        return DataLoader(self._services.customers.devices_for)

    @cached_property
    def categories(self) -> DataLoader[str, Category | None]:
        return DataLoader(self._services.categories.by_keys)

    @cached_property
    def messages(self) -> DataLoader[uuid.UUID, Message | None]:
        """Messages the caller may see (None for the others)."""
        services, viewer = self._services, self._viewer

        async def load(ids: list[uuid.UUID]) -> list[Message | None]:
            return await services.messages.get_many(viewer, ids) if viewer else [None] * len(ids)

        return DataLoader(load)


@dataclass
class EventScope:
    """One live event's execution: the caller as re-checked for this event, fresh loaders,
    and what decides whether two subscribers' frames can be the same bytes."""

    viewer: Viewer
    loaders: Loaders
    event: Any  # a core.live LiveEvent
    visibility: Hashable


# Set by a subscription's generator just before it yields an event. Each websocket
# operation runs in its own task, so the value is that operation's alone, and the event's
# execution (which follows the yield in the same task) sees it.
current_event: ContextVar[EventScope | None] = ContextVar("tidings_event", default=None)


@dataclass
class Context:
    """Per HTTP request, or per websocket connection (shared by its operations: anything
    that must not outlive one subscription event lives in `current_event` instead)."""

    services: Services
    signer: TokenSigner
    channels: dict[str, list[str]]
    max_page_size: int
    connection_viewer: Viewer | None = None
    request: Any = None
    response: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    connection_params: dict[str, Any] | None = None  # a websocket's connection_init payload
    live: LiveRuntime | None = None  # websockets only
    _loaders: Loaders | None = field(default=None, repr=False)

    @property
    def raw_viewer(self) -> Viewer | None:
        """The caller, or None; during a live event, the caller as re-checked for it."""
        scope = current_event.get()
        return scope.viewer if scope is not None else self.connection_viewer

    @raw_viewer.setter
    def raw_viewer(self, viewer: Viewer | None) -> None:
        self.connection_viewer = viewer

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

    @property
    def loaders(self) -> Loaders:
        """One set per operation: per request over HTTP, per event for subscriptions."""
        scope = current_event.get()
        if scope is not None:
            return scope.loaders
        if self._loaders is None:
            self._loaders = Loaders(self.services, self.raw_viewer)
        return self._loaders


Info: TypeAlias = StrawberryInfo[Context, None]


def client_ip(request: Any) -> str | None:
    """The client address of a Starlette request or websocket (None when unknown), as the
    ASGI server reports it: behind a proxy, run uvicorn with --proxy-headers."""
    client = getattr(request, "client", None)
    return client.host if client is not None else None
