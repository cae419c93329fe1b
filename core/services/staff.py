"""Staff accounts (argon2 password hashes) and API keys (stored hashed, shown once)."""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tidings.core import audit, validation
from tidings.core.audit import AuditEvent, record, record_many
from tidings.core.enums import Role
from tidings.core.errors import (
    ForbiddenError,
    NotFoundError,
    TooManyAttemptsError,
    UserInputError,
)
from tidings.core.live.publisher import LivePublisher
from tidings.core.models import Staff
from tidings.core.pagination import Page, paginate
from tidings.core.password_policy import check_password

# API keys moved to core/services/api_keys.py; these names stay importable from here.
from tidings.core.services.api_keys import API_KEY_PREFIX, ApiKeyService, api_key_hash
from tidings.core.services.throttle import SignInThrottle
from tidings.core.viewer import Viewer, ViewerKind

__all__ = [
    "API_KEY_PREFIX",
    "ApiKeyService",
    "PasswordHashing",
    "StaffService",
    "api_key_hash",
]


T = TypeVar("T")

# Verified against when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = PasswordHasher().hash(secrets.token_urlsafe(16))


class PasswordHashing:
    """argon2, off the event loop. A hash or verification costs tens of milliseconds to a
    second of CPU on purpose; run on the loop, a flood of wrong-password logins stalled every
    other request (`/healthz` went from 3 ms to seconds). Each runs in a worker thread
    (argon2-cffi releases the GIL) and at most `concurrency` at once (default: one per CPU):
    further logins wait their turn, they do not fail."""

    def __init__(self, concurrency: int | None = None, hasher: PasswordHasher | None = None):
        self.hasher = hasher or PasswordHasher()
        self.concurrency = concurrency or os.cpu_count() or 1
        self._slots = asyncio.Semaphore(self.concurrency)

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self.hasher.hash(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches `password_hash`; None (an unknown email) is checked
        against a dummy hash, so the answer takes as long either way."""

        def check() -> bool:
            try:
                return self.hasher.verify(password_hash or _DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                return False

        return await self._run(check) and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)  # reads the parameters: cheap

    async def _run(self, work: Callable[[], T]) -> T:
        async with self._slots:
            job = asyncio.ensure_future(asyncio.to_thread(work))
            try:
                return await asyncio.shield(job)
            finally:
                if not job.done():
                    # Cancelled: a thread cannot be stopped, so it keeps its slot until it
                    # finishes and the bound holds.
                    await asyncio.wait([job])


def _is_self(viewer: Viewer, staff_id: uuid.UUID) -> bool:
    return viewer.kind is ViewerKind.STAFF and viewer.id == staff_id


def _require_admin(viewer: Viewer) -> None:
    if not viewer.has_role(Role.ADMIN):
        raise ForbiddenError("Only ADMIN manages staff and API keys.")


class StaffService:
    def __init__(
        self,
        live: LivePublisher | None = None,
        passwords: PasswordHashing | None = None,
        throttle: SignInThrottle | None = None,
    ) -> None:
        self.live = live  # revocations end the caller's live streams at once
        self.passwords = passwords or PasswordHashing()
        # Without one (scripts, tests of other things) a throttle under a random key.
        self.throttle = throttle or SignInThrottle(secrets.token_urlsafe(32))

    async def create(self, email: str, password: str, role: Role) -> Staff:
        """Create a staff account (the CLI's route; the mutation checks the caller first)."""
        address = validation.email(email).lower()
        password_hash = await self.passwords.hash(check_password(password))
        try:
            async with in_transaction():
                staff = await Staff.create(email=address, password_hash=password_hash, role=role)
                await record(
                    "staff.create",
                    targets={"staff": str(staff.id)},
                    detail={"role": Role(role).value},
                )
                return staff
        except IntegrityError:
            raise UserInputError(
                "DUPLICATE_EMAIL", "A staff member has this email.", "email"
            ) from None

    async def create_as(self, viewer: Viewer, email: str, password: str, role: Role) -> Staff:
        _require_admin(viewer)
        return await self.create(email, password, role)

    async def authenticate(self, email: str, password: str, via: str = "graphql") -> Staff | None:
        """The active staff member with these credentials, or None. Constant work either way.
        Either way the audit log gets `staff.login` or `staff.login_failed` (`via`: "graphql"
        or "dashboard"); a failure names the member only when the email is one's."""
        staff = await Staff.filter(email=email.strip().lower(), active=True).first()
        if not await self.passwords.verify(staff.password_hash if staff else None, password):
            await login_failed(via, staff.id if staff else None)
            return None
        assert staff is not None  # verify is False without a hash
        updates = ["last_login_at"]
        if self.passwords.needs_rehash(staff.password_hash):
            staff.password_hash = await self.passwords.hash(password)
            updates.append("password_hash")
        staff.last_login_at = datetime.now(UTC)
        async with in_transaction():
            await staff.save(update_fields=updates)
            await record("staff.login", actor=_ref(staff.id), detail={"via": via})
        return staff

    async def sign_in(
        self, email: str, password: str, ip: str | None, via: str = "graphql"
    ) -> Staff | None:
        """`authenticate` behind the throttle (core/services/throttle.py): refused with
        `TooManyAttemptsError` before the password is checked while the account or the
        client address is blocked; a failure is counted, a success clears the account."""
        keys = self.throttle.keys(email, ip)
        blocked = await self.throttle.check(keys)
        if blocked is not None:
            staff_id = await Staff.filter(email=email.strip().lower()).values_list("id", flat=True)
            await audit.record(
                "auth.throttled",
                targets={"staff": str(staff_id[0])} if staff_id else None,
                detail={"blockedBy": list(blocked.scopes), "retryAfter": blocked.retry_after},
            )
            raise TooManyAttemptsError(blocked.retry_after)
        staff = await self.authenticate(email, password, via)
        if staff is None:
            await self.throttle.failed(keys)
        else:
            await self.throttle.succeeded(keys)
        return staff

    async def get(self, staff_id: uuid.UUID) -> Staff | None:
        return await Staff.filter(id=staff_id).first()

    async def get_many(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, Staff]:
        return {row.id: row for row in await Staff.filter(id__in=list(set(ids)))}

    async def get_visible(self, viewer: Viewer, staff_id: uuid.UUID) -> Staff | None:
        """ADMIN and AUDITOR see every staff member; others only themselves."""
        if viewer.has_role(Role.ADMIN, Role.AUDITOR) or _is_self(viewer, staff_id):
            return await self.get(staff_id)
        return None

    async def list(self, viewer: Viewer, first: int, after: str | None) -> Page[Staff]:
        if not viewer.has_role(Role.ADMIN, Role.AUDITOR):
            raise ForbiddenError("Only ADMIN and AUDITOR list staff.")
        return await paginate(Staff.all(), first, after)

    async def update(
        self,
        viewer: Viewer,
        staff_id: uuid.UUID,
        *,
        role: Role | None = None,
        active: bool | None = None,
        password: str | None = None,
    ) -> Staff:
        """Change role, activity or password; any of them revokes the member's tokens."""
        is_self = _is_self(viewer, staff_id)
        if not viewer.has_role(Role.ADMIN) and not (is_self and role is None and active is None):
            raise ForbiddenError("Only ADMIN changes another member or a role.")
        staff = await self.get(staff_id)
        if staff is None:
            raise NotFoundError("id")
        if is_self and (active is False or (role is not None and role is not Role.ADMIN)):
            if (
                staff.role is Role.ADMIN
                and await Staff.filter(role=Role.ADMIN, active=True).count() <= 1
            ):
                raise UserInputError(
                    "LAST_ADMIN", "The last active admin cannot demote or deactivate itself.", "id"
                )
        events = _staff_changes(staff, role, active, password is not None)
        if role is not None:
            staff.role = role
        if active is not None:
            staff.active = active
        if password is not None:
            staff.password_hash = await self.passwords.hash(check_password(password))
        staff.token_version += 1
        async with in_transaction():
            await staff.save()
            await record_many(events)
        await self._revoked(staff.id)
        return staff

    async def logout(self, staff: Staff, via: str = "graphql") -> None:
        """Revoke every token of this member (`staff.logout`, `via` as for `authenticate`)."""
        staff.token_version += 1
        async with in_transaction():
            await staff.save(update_fields=["token_version"])
            await record("staff.logout", actor=_ref(staff.id), detail={"via": via})
        await self._revoked(staff.id)

    async def _revoked(self, staff_id: uuid.UUID) -> None:
        if self.live is not None:
            await self.live.viewer_revoked(ViewerKind.STAFF.value, staff_id)


def _ref(staff_id: uuid.UUID) -> str:
    return f"{ViewerKind.STAFF.value}:{staff_id}"


async def login_failed(via: str, staff_id: uuid.UUID | None = None) -> None:
    """A failed sign-in, by an unauthenticated caller: the member is named only when the
    email was one's, and the email itself never."""
    targets = {"staff": str(staff_id)} if staff_id else {}
    await record("staff.login_failed", targets=targets, detail={"via": via})


def _staff_changes(
    staff: Staff, role: Role | None, active: bool | None, password: bool
) -> list[AuditEvent]:
    """One entry per kind of change an update makes to `staff` (read before it changes)."""
    targets = {"staff": str(staff.id)}
    events = []
    if role is not None and role is not staff.role:
        detail = {"role": role.value, "previous": Role(staff.role).value}
        events.append(AuditEvent("staff.role_change", targets=targets, detail=detail))
    if active is not None and active != staff.active:
        action = "staff.reactivate" if active else "staff.deactivate"
        events.append(AuditEvent(action, targets=targets))
    if password:
        events.append(AuditEvent("staff.password_change", targets=targets))
    return events or [AuditEvent("staff.update", targets=targets, detail={"fields": []})]
