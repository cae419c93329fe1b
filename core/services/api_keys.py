"""API keys: stored hashed (only a SHA-256 of the secret), shown once; optionally scoped
(core/scopes.py) and expiring."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from tidings.core import audit, validation
from tidings.core.enums import Role
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.live.publisher import LivePublisher
from tidings.core.models import ApiKey
from tidings.core.pagination import Page, paginate
from tidings.core.scopes import clean_scopes
from tidings.core.viewer import Viewer, ViewerKind

API_KEY_PREFIX = "tdk_"


def _require_admin(viewer: Viewer) -> None:
    if not viewer.has_role(Role.ADMIN):
        raise ForbiddenError("Only ADMIN manages staff and API keys.")


def api_key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyService:
    def __init__(self, live: LivePublisher | None = None) -> None:
        self.live = live

    async def create(
        self,
        viewer: Viewer | None,
        name: str,
        role: Role,
        scopes: Sequence[str] | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its secret; the secret is shown this once and never stored.
        `scopes` narrow the role (core/scopes.py; None: its full power); after `expires_at`
        the key authenticates as nothing."""
        if viewer is not None:
            _require_admin(viewer)
        label = validation.name(name, "name", 255, required=True)
        stored_scopes = clean_scopes(scopes)
        if expires_at is not None:
            if expires_at.tzinfo is None:
                expires_at = expires_at.replace(tzinfo=UTC)
            if expires_at <= datetime.now(UTC):
                raise UserInputError(
                    "INVALID_TIME", "The expiry must be in the future.", "expiresAt"
                )
        secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
        async with in_transaction():
            key = await ApiKey.create(
                name=label,
                role=role,
                prefix=secret[:12],
                key_hash=api_key_hash(secret),
                created_by_id=viewer.id if viewer else None,
                scopes=stored_scopes,
                expires_at=expires_at,
            )
            await audit.record(
                "api_key.create",
                actor=viewer.ref if viewer else "system",
                targets={"api_key": str(key.id)},
                detail={
                    "role": role.value,
                    "scopes": stored_scopes,
                    "expiresAt": expires_at.isoformat() if expires_at else None,
                },
            )
        return key, secret

    async def authenticate(self, secret: str) -> ApiKey | None:
        now = datetime.now(UTC)
        key = await ApiKey.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
            key_hash=api_key_hash(secret),
            revoked_at__isnull=True,
        ).first()
        if key is not None:
            # Written at most once a minute per key, so a busy key does not write on every call.
            if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
                key.last_used_at = now
                await ApiKey.filter(id=key.id).update(last_used_at=now)
        return key

    async def get(self, key_id: uuid.UUID) -> ApiKey | None:
        return await ApiKey.filter(id=key_id).first()

    async def get_visible(self, viewer: Viewer, key_id: uuid.UUID) -> ApiKey | None:
        """An unrevoked key, as `list` shows it to ADMIN and AUDITOR; a key sees itself."""
        if viewer.has_role(Role.ADMIN, Role.AUDITOR) or (
            viewer.kind is ViewerKind.API_KEY and viewer.id == key_id
        ):
            return await ApiKey.filter(id=key_id, revoked_at__isnull=True).first()
        return None

    async def list(self, viewer: Viewer, first: int, after: str | None) -> Page[ApiKey]:
        if not viewer.has_role(Role.ADMIN, Role.AUDITOR):
            raise ForbiddenError("Only ADMIN and AUDITOR list API keys.")
        return await paginate(ApiKey.filter(revoked_at__isnull=True), first, after)

    async def revoke(self, viewer: Viewer, key_id: uuid.UUID) -> ApiKey:
        _require_admin(viewer)
        key = await ApiKey.filter(id=key_id, revoked_at__isnull=True).first()
        if key is None:
            raise NotFoundError("id")
        key.revoked_at = datetime.now(UTC)
        async with in_transaction():
            await key.save(update_fields=["revoked_at"])
            await audit.record("api_key.revoke", actor=viewer.ref, targets={"api_key": str(key.id)})
        if self.live is not None:
            await self.live.viewer_revoked(ViewerKind.API_KEY.value, key.id)
        return key
