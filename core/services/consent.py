"""Permission grants (the consent ledger) and preferences."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tidings.core import validation
from tidings.core.enums import Frequency, GrantStatus, Role
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.models import Customer, PermissionEntry, PermissionState, Preference
from tidings.core.pagination import Page, PageKey, paginate_each
from tidings.core.policy import GrantState, effective_grant_status
from tidings.core.services.categories import CategoryService
from tidings.core.viewer import (
    Viewer,
    can_see_customer,
    may_record_consent,
    may_withdraw_consent,
    resolve_target,
)


def effective_status(
    status: GrantStatus, expires_at: datetime | None, now: datetime
) -> GrantStatus:
    """GRANTED past its expiry reads as EXPIRED; the ledger itself is never rewritten. The
    policy engine's rule, so what a console shows is what sending obeys."""
    return effective_grant_status(GrantState(status=status, expires_at=expires_at), now) or status


STATE_COLUMNS = (
    "customer_id", "channel", "category", "status", "source",
    "granted_at", "withdrawn_at", "expires_at", "entry_id",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class StateRow:
    """A current grant state, read without building a model instance."""

    customer_id: uuid.UUID
    channel: str
    category: str
    status: GrantStatus
    source: str
    granted_at: datetime | None
    withdrawn_at: datetime | None
    expires_at: datetime | None
    entry_id: uuid.UUID


PREFERENCE_COLUMNS = (
    "customer_id", "category", "channels", "frequency", "quiet_start", "quiet_end",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PreferenceRow:
    customer_id: uuid.UUID
    category: str
    channels: list[str]
    frequency: Frequency
    quiet_start: str | None
    quiet_end: str | None


@dataclass(frozen=True)
class GrantRequest:
    channel: str
    category: str
    source: str
    evidence: dict | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class PreferenceRequest:
    category: str
    channels: Sequence[str]
    frequency: Frequency
    quiet_start: str | None = None
    quiet_end: str | None = None


def _require_role(viewer: Viewer, *roles: Role) -> None:
    """A role that may not do this at all is refused (FORBIDDEN) before any customer is looked
    up; customers may, for themselves."""
    if not (viewer.is_customer or viewer.has_role(*roles)):
        raise ForbiddenError("Your role may not record consent or preferences.")


class ConsentService:
    def __init__(self, channels: frozenset[str], categories: CategoryService) -> None:
        self.channels = channels
        self.categories = categories

    async def _customer(self, viewer: Viewer, customer_id: uuid.UUID) -> Customer:
        """The customer, or NOT_FOUND (also when the caller may not see it)."""
        if not await can_see_customer(viewer, customer_id):
            raise NotFoundError("customerId")
        customer = await Customer.filter(id=customer_id).first()
        if customer is None:
            raise NotFoundError("customerId")
        return customer

    async def grant(
        self, viewer: Viewer, customer_id: uuid.UUID | None, request: GrantRequest
    ) -> PermissionEntry:
        _require_role(viewer, Role.ADMIN)
        customer_id = resolve_target(viewer, customer_id)
        await self._customer(viewer, customer_id)
        if not await may_record_consent(viewer, customer_id):
            raise NotFoundError("customerId")
        self.categories.check_channel(request.channel)
        await self.categories.require(request.category)
        now = datetime.now(UTC)
        return await self._record(
            viewer,
            customer_id,
            request.channel,
            request.category,
            status=GrantStatus.GRANTED,
            source=validation.source(request.source),
            evidence=validation.json_object(
                request.evidence, "evidence", validation.MAX_EVIDENCE_BYTES
            ),
            granted_at=now,
            expires_at=validation.utc_datetime(request.expires_at, "expiresAt"),
        )

    async def withdraw(
        self,
        viewer: Viewer,
        customer_id: uuid.UUID | None,
        channel: str,
        category: str,
        source: str,
        evidence: dict | None = None,
    ) -> PermissionEntry:
        """Withdraw consent. Where nothing was granted the refusal is recorded all the same.
        `evidence`: how it was withdrawn (the preference page records time, IP, user agent)."""
        _require_role(viewer, Role.ADMIN, Role.AGENT)
        customer_id = resolve_target(viewer, customer_id)
        await self._customer(viewer, customer_id)
        if not await may_withdraw_consent(viewer, customer_id):
            raise NotFoundError("customerId")
        self.categories.check_channel(channel)
        await self.categories.require(category)
        return await self._record(
            viewer,
            customer_id,
            channel,
            category,
            status=GrantStatus.WITHDRAWN,
            source=validation.source(source),
            evidence=validation.json_object(evidence, "evidence", validation.MAX_EVIDENCE_BYTES),
            withdrawn_at=datetime.now(UTC),
        )

    async def _record(
        self,
        viewer: Viewer,
        customer_id: uuid.UUID,
        channel: str,
        category: str,
        *,
        status: GrantStatus,
        source: str,
        evidence: dict | None,
        granted_at: datetime | None = None,
        withdrawn_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> PermissionEntry:
        """Append to the ledger and fold into the current state, in one transaction.

        The first two records for one customer × channel × category can race to create the
        state row (there is no row yet to lock): the loser's transaction rolls back whole and
        runs once more, when it finds the row and waits on its lock.
        """
        for retry in (False, True):
            try:
                async with in_transaction():
                    state = (
                        await PermissionState.filter(
                            customer_id=customer_id, channel=channel, category=category
                        )
                        .select_for_update()
                        .first()
                    )
                    if status is GrantStatus.WITHDRAWN and state is not None:
                        # The withdrawal keeps when consent had been given, for the record.
                        granted_at = state.granted_at
                    entry = await PermissionEntry.create(
                        customer_id=customer_id,
                        channel=channel,
                        category=category,
                        status=status,
                        source=source,
                        evidence=evidence,
                        granted_at=granted_at,
                        withdrawn_at=withdrawn_at,
                        expires_at=expires_at,
                        recorded_by=viewer.ref,
                    )
                    values = {
                        "status": status,
                        "source": source,
                        "granted_at": granted_at,
                        "withdrawn_at": withdrawn_at,
                        "expires_at": expires_at,
                        "entry_id": entry.id,
                    }
                    if state is None:
                        await PermissionState.create(
                            customer_id=customer_id, channel=channel, category=category, **values
                        )
                    else:
                        state.update_from_dict(values)
                        await state.save(update_fields=[*values.keys(), "updated_at"])
                return entry
            except IntegrityError:
                if retry:
                    raise
        raise AssertionError("unreachable")

    async def histories(
        self, keys: Sequence[PageKey]
    ) -> list[Page[PermissionEntry] | UserInputError]:
        """A page of the ledger, newest first, for each customer (whom the caller has already
        been allowed to see): a DataLoader's batch, as a page of customers shows each one's
        ledger, in one statement per distinct page arguments."""
        return await paginate_each(
            lambda ids: PermissionEntry.filter(customer_id__in=ids),
            "customer_id",
            keys,
            newest_first=True,
        )

    async def entries_by_id(self, entry_ids: Sequence[uuid.UUID]) -> list[PermissionEntry | None]:
        rows = {row.id: row for row in await PermissionEntry.filter(id__in=list(entry_ids))}
        return [rows.get(entry_id) for entry_id in entry_ids]

    async def states_for(self, customer_ids: Sequence[uuid.UUID]) -> list[list[StateRow]]:
        """Current grant states per customer, as plain rows (pages read hundreds at once)."""
        rows = (
            await PermissionState.filter(customer_id__in=list(customer_ids))
            .order_by("channel", "category")
            .values_list(*STATE_COLUMNS)
        )
        grouped: dict[uuid.UUID, list[StateRow]] = {cid: [] for cid in customer_ids}
        for values in rows:
            row = StateRow(*values)
            grouped[row.customer_id].append(row)
        return [grouped[cid] for cid in customer_ids]

    # Preferences ---------------------------------------------------------------------------

    async def set_preference(
        self, viewer: Viewer, customer_id: uuid.UUID | None, request: PreferenceRequest
    ) -> Preference:
        _require_role(viewer, Role.ADMIN)
        customer_id = resolve_target(viewer, customer_id)
        await self._customer(viewer, customer_id)
        if not await may_record_consent(viewer, customer_id):
            raise NotFoundError("customerId")
        await self.categories.require(request.category)
        channels = list(dict.fromkeys(request.channels))
        for channel in channels:
            self.categories.check_channel(channel, "channels")
        if (request.quiet_start is None) != (request.quiet_end is None):
            raise UserInputError(
                "INVALID_TIME", "Quiet hours need a start and an end.", "quietHours"
            )
        quiet_start = quiet_end = None
        if request.quiet_start is not None and request.quiet_end is not None:
            quiet_start = validation.clock(request.quiet_start, "quietHours.start")
            quiet_end = validation.clock(request.quiet_end, "quietHours.end")
            if quiet_start == quiet_end:
                raise UserInputError(
                    "INVALID_TIME", "Quiet hours must not start and end together.", "quietHours"
                )
        values = {
            "channels": channels,
            "frequency": Frequency(request.frequency),
            "quiet_start": quiet_start,
            "quiet_end": quiet_end,
        }
        return await self._store_preference(customer_id, request.category, values)

    async def _store_preference(
        self, customer_id: uuid.UUID, category: str, values: dict
    ) -> Preference:
        """Create or replace the one preference row, under its lock.

        As in `_record`: the first two changes for one customer × category can race to create
        the row (there is none yet to lock); the loser's transaction rolls back whole and runs
        once more, when it finds the row and waits on its lock. The last to commit wins.
        """
        for retry in (False, True):
            try:
                async with in_transaction():
                    preference = (
                        await Preference.filter(customer_id=customer_id, category=category)
                        .select_for_update()
                        .first()
                    )
                    if preference is None:
                        return await Preference.create(
                            customer_id=customer_id, category=category, **values
                        )
                    preference.update_from_dict(values)
                    await preference.save(update_fields=[*values.keys(), "updated_at"])
                    return preference
            except IntegrityError:
                if retry:
                    raise
        raise AssertionError("unreachable")

    async def preferences_for(self, customer_ids: Sequence[uuid.UUID]) -> list[list[PreferenceRow]]:
        rows = (
            await Preference.filter(customer_id__in=list(customer_ids))
            .order_by("category")
            .values_list(*PREFERENCE_COLUMNS)
        )
        grouped: dict[uuid.UUID, list[PreferenceRow]] = {cid: [] for cid in customer_ids}
        for values in rows:
            row = PreferenceRow(*values)
            grouped[row.customer_id].append(row)
        return [grouped[cid] for cid in customer_ids]
