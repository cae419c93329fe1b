"""What sending needs of the categories, as a shape: `CategoryService` (core/services) has
it. Delivery names this protocol rather than that service, so the services package may
build the delivery services without the two importing each other."""

from __future__ import annotations

from typing import Protocol

from tidings.core.models import Category


class CategoryCatalogue(Protocol):
    def check_channel(self, channel: str, field: str = "channel") -> str:
        """The channel, if a provider or the built-ins serve it; else a user error on `field`."""
        ...

    async def require(self, key: str, field: str = "category") -> Category:
        """The category, or a NOT_FOUND user error on `field`."""
        ...
