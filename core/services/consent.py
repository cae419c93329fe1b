"""Permission grants (the consent ledger) and preferences."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from tidings.core import validation
from tidings.core.errors import NotFoundError, UserInputError
from tidings.core.models import Customer, PermissionEntry, PermissionState, Preference
from tidings.core.models.enums import Frequency, GrantStatus
from tidings.core.pagination import Page, paginate
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
    """GRANTED past its expiry reads as EXPIRED; the ledger itself is never rewritten."""
    if status is GrantStatus.GRANTED and expires_at is not None and expires_at <= now:
        return GrantStatus.EXPIRED
    return status


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
            expires_at=validation.future_or_past(request.expires_at),
        )

    async def withdraw(
        self,
        viewer: Viewer,
        customer_id: uuid.UUID | None,
        channel: str,
        category: str,
        source: str,
    ) -> PermissionEntry:
        """Withdraw consent. Where nothing was granted the refusal is recorded all the same."""
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
            evidence=None,
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
        """Append to the ledger and fold into the current state, in one transaction."""
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

    async def history(
        self, customer_id: uuid.UUID, first: int, after: str | None
    ) -> Page[PermissionEntry]:
        """The ledger, newest first (the caller has already been allowed to see the customer)."""
        return await paginate(
            PermissionEntry.filter(customer_id=customer_id), first, after, newest_first=True
        )

    async def entries_by_id(self, entry_ids: Sequence[uuid.UUID]) -> list[PermissionEntry | None]:
        rows = {row.id: row for row in await PermissionEntry.filter(id__in=list(entry_ids))}
        return [rows.get(entry_id) for entry_id in entry_ids]

    async def states_for(self, customer_ids: Sequence[uuid.UUID]) -> list[list[PermissionState]]:
        rows = await PermissionState.filter(customer_id__in=list(customer_ids)).order_by(
            "channel", "category"
        )
        grouped: dict[uuid.UUID, list[PermissionState]] = {cid: [] for cid in customer_ids}
        for row in rows:
            grouped[row.customer_id].append(row)
        return [grouped[cid] for cid in customer_ids]

    # Preferences ---------------------------------------------------------------------------

    async def set_preference(
        self, viewer: Viewer, customer_id: uuid.UUID | None, request: PreferenceRequest
    ) -> Preference:
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
        async with in_transaction():
            preference = (
                await Preference.filter(customer_id=customer_id, category=request.category)
                .select_for_update()
                .first()
            )
            if preference is None:
                return await Preference.create(
                    customer_id=customer_id, category=request.category, **values
                )
            preference.update_from_dict(values)
            await preference.save(update_fields=[*values.keys(), "updated_at"])
            return preference

    async def preferences_for(self, customer_ids: Sequence[uuid.UUID]) -> list[list[Preference]]:
        rows = await Preference.filter(customer_id__in=list(customer_ids)).order_by("category")
        grouped: dict[uuid.UUID, list[Preference]] = {cid: [] for cid in customer_ids}
        for row in rows:
            grouped[row.customer_id].append(row)
        return [grouped[cid] for cid in customer_ids]
