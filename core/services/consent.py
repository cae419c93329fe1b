"""Permission grants (the consent ledger) and preferences."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tidings.core import validation
from tidings.core.enums import EmailConfirmation, Frequency, GrantStatus, Role
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.links import LinkSigner
from tidings.core.models import Customer, PermissionEntry, PermissionState, Preference
from tidings.core.pagination import Page, PageKey, paginate_each
from tidings.core.policy import GrantState, effective_grant_status
from tidings.core.services import confirmation, ledger
from tidings.core.services.categories import CategoryService
from tidings.core.services.confirmation import (
    ConfirmOutcome,
    PendingConfirmation,
    is_confirmed,
    needs_confirmation,
    queue_confirmation,
)
from tidings.core.services.ledger import LedgerRecord
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
    def __init__(
        self,
        channels: frozenset[str],
        categories: CategoryService,
        links: LinkSigner | None = None,
        email_confirmation: EmailConfirmation = EmailConfirmation.CATEGORY,
    ) -> None:
        self.channels = channels
        self.categories = categories
        # Confirmed opt-in (confirmation.py): the confirmation mail's link, and whether every
        # email grant needs confirming (TIDINGS_EMAIL_CONFIRMATION).
        self.links = links
        self.email_confirmation = email_confirmation

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
        """Record a grant: GRANTED, or PENDING with a confirmation mail queued where email
        needs confirming and the channel is not already GRANTED (confirmation.py)."""
        _require_role(viewer, Role.ADMIN)
        customer_id = resolve_target(viewer, customer_id)
        customer = await self._customer(viewer, customer_id)
        if not await may_record_consent(viewer, customer_id):
            raise NotFoundError("customerId")
        self.categories.check_channel(request.channel)
        category = await self.categories.require(request.category)
        source = validation.source(request.source)
        evidence = validation.json_object(
            request.evidence, "evidence", validation.MAX_EVIDENCE_BYTES
        )
        expires_at = validation.utc_datetime(request.expires_at, "expiresAt")
        now = datetime.now(UTC)
        confirm = needs_confirmation(category, request.channel, self.email_confirmation)
        if confirm and self.links is None:
            raise RuntimeError("confirmed opt-in needs a LinkSigner")

        async def decide(state: PermissionState | None) -> LedgerRecord:
            if confirm and not is_confirmed(state, now):
                return LedgerRecord(GrantStatus.PENDING, source, evidence, expires_at=expires_at)
            return LedgerRecord(
                GrantStatus.GRANTED, source, evidence, granted_at=now, expires_at=expires_at
            )

        async def after(entry: PermissionEntry) -> None:
            if entry.status is GrantStatus.PENDING and self.links is not None:
                await queue_confirmation(entry, customer, category, self.links, viewer.ref, now)

        entry = await ledger.append(
            customer_id, request.channel, category.key, viewer.ref, decide, after
        )
        assert entry is not None
        return entry

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
        source = validation.source(source)
        evidence = validation.json_object(evidence, "evidence", validation.MAX_EVIDENCE_BYTES)
        now = datetime.now(UTC)

        async def decide(state: PermissionState | None) -> LedgerRecord:
            # The withdrawal keeps when consent had been given, for the record.
            granted_at = state.granted_at if state is not None else None
            return LedgerRecord(
                GrantStatus.WITHDRAWN, source, evidence, granted_at=granted_at, withdrawn_at=now
            )

        entry = await ledger.append(customer_id, channel, category, viewer.ref, decide)
        assert entry is not None
        return entry

    # Confirmed opt-in ----------------------------------------------------------------------

    async def confirm(
        self, customer_id: uuid.UUID, entry_id: uuid.UUID, evidence: dict | None
    ) -> ConfirmOutcome:
        """Confirm the PENDING entry a confirmation link names (its token already verified):
        a GRANTED entry by the customer, with `evidence` ({"at", "ip", "userAgent"}) kept
        under "confirmation". Pressing again appends nothing (ALREADY_CONFIRMED)."""
        return await confirmation.confirm(customer_id, entry_id, evidence)

    async def pending_entry(
        self, customer_id: uuid.UUID, entry_id: uuid.UUID
    ) -> PendingConfirmation | None:
        """What a confirmation link is about, changing nothing (the GET page): None when the
        customer has no such PENDING entry."""
        return await confirmation.describe(self.categories, customer_id, entry_id)

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
        return await ledger.store_preference(customer_id, request.category, values, viewer.ref)

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
