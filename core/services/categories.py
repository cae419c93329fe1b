"""Categories: what a message is about, and the rules that follow from its kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from tidings.core import validation
from tidings.core.enums import CategoryKind, Role
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.models import Category
from tidings.core.viewer import Viewer

UNSET = object()


@dataclass
class CategoryFields:
    key: str | None = None
    name: str | None = None
    kind: CategoryKind | None = None
    description: str | None = UNSET  # type: ignore[assignment]
    default_channels: Sequence[str] | None = None
    respect_quiet_hours: bool | None = None
    required: bool | None = None
    fallback_channel: str | None = UNSET  # type: ignore[assignment]
    confirm_email: bool | None = None  # confirmed opt-in for email grants
    track_engagement: bool | None = None  # default: MARKETING on, TRANSACTIONAL off


class CategoryService:
    def __init__(self, channels: frozenset[str]) -> None:
        self.channels = channels

    def check_channel(self, channel: str, field: str = "channel") -> str:
        if channel not in self.channels:
            raise UserInputError(
                "UNKNOWN_CHANNEL",
                f"Unknown channel; registered: {', '.join(sorted(self.channels))}.",
                field,
            )
        return channel

    async def require(self, key: str, field: str = "category") -> Category:
        category = await Category.filter(key=key).first()
        if category is None:
            raise UserInputError("UNKNOWN_CATEGORY", "No category has this key.", field)
        return category

    async def list(self) -> list[Category]:
        return await Category.all().order_by("key")

    async def get(self, key: str) -> Category | None:
        return await Category.filter(key=key).first()

    async def by_keys(self, keys: Sequence[str]) -> list[Category | None]:
        """Batch load for a DataLoader: the category of each key, None where there is none."""
        rows = {row.key: row for row in await Category.filter(key__in=list(set(keys)))}
        return [rows.get(key) for key in keys]

    def _may_manage(self, viewer: Viewer) -> None:
        if not viewer.has_role(Role.ADMIN, Role.MARKETER):
            raise ForbiddenError("Only ADMIN and MARKETER manage categories.")

    def _channels(self, fields: CategoryFields) -> dict:
        out: dict = {}
        if fields.default_channels is not None:
            channels = list(dict.fromkeys(fields.default_channels))
            for channel in channels:
                self.check_channel(channel, "defaultChannels")
            out["default_channels"] = channels
        if fields.fallback_channel is not UNSET:
            out["fallback_channel"] = (
                self.check_channel(fields.fallback_channel, "fallbackChannel")
                if fields.fallback_channel
                else None
            )
        return out

    async def create(self, viewer: Viewer, fields: CategoryFields) -> Category:
        self._may_manage(viewer)
        kind = CategoryKind(fields.kind)
        values = {
            "key": validation.key(fields.key or ""),
            "name": validation.name(fields.name, "name", 255, required=True),
            "kind": kind,
            "description": validation.text(
                None if fields.description is UNSET else fields.description, "description", 2000
            ),
            "respect_quiet_hours": (
                kind is CategoryKind.MARKETING
                if fields.respect_quiet_hours is None
                else fields.respect_quiet_hours
            ),
            "required": bool(fields.required),
            "confirm_email": bool(fields.confirm_email),
            "track_engagement": (
                kind is CategoryKind.MARKETING
                if fields.track_engagement is None
                else fields.track_engagement
            ),
            "default_channels": ["email"],
            **self._channels(fields),
        }
        try:
            return await Category.create(**values)
        except IntegrityError:
            raise UserInputError(
                "DUPLICATE_KEY", "A category with this key exists.", "key"
            ) from None

    async def update(self, viewer: Viewer, key: str, fields: CategoryFields) -> Category:
        """Change anything but the key and the kind (consent given for one kind stays with it)."""
        self._may_manage(viewer)
        category = await self.get(key)
        if category is None:
            raise NotFoundError("key")
        values: dict = self._channels(fields)
        if fields.name is not None:
            values["name"] = validation.name(fields.name, "name", 255, required=True)
        if fields.description is not UNSET:
            values["description"] = validation.text(fields.description, "description", 2000)
        if fields.respect_quiet_hours is not None:
            values["respect_quiet_hours"] = fields.respect_quiet_hours
        if fields.required is not None:
            values["required"] = fields.required
        if fields.confirm_email is not None:
            values["confirm_email"] = fields.confirm_email
        if fields.track_engagement is not None:
            values["track_engagement"] = fields.track_engagement
        if values:
            category.update_from_dict(values)
            await category.save(update_fields=[*values.keys(), "updated_at"])
        return category
