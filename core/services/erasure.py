"""Erasing a customer (GDPR Art. 17, PIPL Art. 47): a sequence of committed, idempotent steps.

Each step commits on its own and can run again with the same result, so a crash part way
leaves a customer whose next erasure (a retry of `eraseCustomer`, or the worker's next round:
it finishes every started erasure) completes the job. Where the customer stands is on its row:
`erasure_started_at` (set by the first step: from then on every lookup treats the customer as
gone, see `LiveCustomers`) and `erased_at` (set by the last).

What stays: the customer row as a tombstone (id, locale, timezone, tier, the erasure's times
and reason; no name, address or attributes), its deliveries without error texts (the
analytics count them), the consent ledger in minimal form (when, what, source, and a keyed
hash of the address the grant was for) and the suppression list (keyed hashes already). The
`externalId` is freed (replaced by "erased:<id>") so the company's systems may create a new
customer under it; a new customer with the same address is still found suppressed by hash.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q, Subquery
from tortoise.transactions import in_transaction

from tidings.core.address_hash import AddressHasher
from tidings.core.audit import record
from tidings.core.delivery.addresses import address_of
from tidings.core.enums import DeliveryReason, DeliveryStatus, Role
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.live.publisher import LivePublisher
from tidings.core.models import (
    AccessGrant,
    Customer,
    CustomerEvent,
    Delivery,
    DeliveryEvent,
    Device,
    Notification,
    PermissionEntry,
    Preference,
)
from tidings.core.viewer import Viewer, ViewerKind

REQUESTED = "requested"  # the reason recorded when the customer asked itself
MAX_REASON = 1000
BATCH = 500


@dataclass(frozen=True)
class _Run:
    reason: str
    actor: str | None  # None: the request's own actor (the customer, for the worker)


@dataclass(frozen=True)
class ErasureRequest:
    """What `requestErasure` answers: when the erasure is (or was) carried out."""

    customer_id: uuid.UUID
    due_at: datetime
    erased: bool


class ErasureService:
    def __init__(
        self, hasher: AddressHasher, live: LivePublisher | None, grace: timedelta = timedelta()
    ) -> None:
        self.hasher = hasher
        self.live = live  # where sockets hear the customer's tokens are gone
        self.grace = grace  # TIDINGS_ERASURE_GRACE_DAYS
        self.steps: tuple[tuple[str, Callable[[uuid.UUID, _Run], Awaitable[None]]], ...] = (
            ("start", self._start),
            ("close_live", self._close_live),
            ("cancel_deliveries", self._cancel_deliveries),
            ("minimise_consent", self._minimise_consent),
            ("scrub_content", self._scrub_content),
            ("remove_related", self._remove_related),
            ("scrub_profile", self._scrub_profile),
        )

    @property
    def step_names(self) -> list[str]:
        return [name for name, _ in self.steps]

    # Entry points ------------------------------------------------------------------------------

    async def erase(self, viewer: Viewer, customer_id: uuid.UUID, reason: str) -> uuid.UUID:
        """ADMIN erases a customer now. Erasing one erased already (or being erased) is
        NOT_FOUND when it is finished, and finishes the job when it is not."""
        if not viewer.has_role(Role.ADMIN):
            raise ForbiddenError("Only ADMIN may erase customers.")
        reason = (reason or "").strip()
        if not reason:
            raise UserInputError("REQUIRED", "Say why the customer is erased.", "reason")
        if len(reason) > MAX_REASON:
            raise UserInputError("TOO_LONG", f"At most {MAX_REASON} characters.", "reason")
        row = await Customer.everything.filter(id=customer_id, erased_at__isnull=True).first()
        if row is None:
            raise NotFoundError("customerId")
        await self.run(customer_id, reason=reason, actor=viewer.ref)
        return customer_id

    async def request(self, viewer: Viewer) -> ErasureRequest:
        """The customer asks for its own erasure: carried out after the grace period (at once
        with none). Asking again keeps the first request's time."""
        if not viewer.is_customer:
            raise ForbiddenError("Only a customer asks for its own erasure.")
        now = datetime.now(UTC)
        async with in_transaction():
            row = await Customer.filter(id=viewer.id).select_for_update().first()
            if row is None:
                raise NotFoundError("customerId")
            if row.erasure_requested_at is None:
                row.erasure_requested_at = now
                row.erasure_requested_by = viewer.ref
                await row.save(update_fields=["erasure_requested_at", "erasure_requested_by"])
                await record(
                    "customer.erasure_requested",
                    actor=viewer.ref,
                    customer_id=row.id,
                    detail={"graceDays": self.grace.days},
                )
        due = row.erasure_requested_at + self.grace
        if due <= now:
            await self.run(row.id, reason=REQUESTED, actor=viewer.ref)
            return ErasureRequest(row.id, due, erased=True)
        return ErasureRequest(row.id, due, erased=False)

    async def run_due(self, now: datetime | None = None, limit: int = 20) -> int:
        """The worker's share: carry out requests whose grace period ended, and finish every
        erasure a crash left half done. Returns how many it erased."""
        now = now or datetime.now(UTC)
        due = (
            await Customer.everything.filter(
                erased_at__isnull=True, erasure_requested_at__lte=now - self.grace
            )
            .limit(limit)
            .values_list("id", flat=True)
        )
        started = (
            await Customer.everything.filter(
                erased_at__isnull=True, erasure_started_at__isnull=False
            )
            .limit(limit)
            .values_list("id", flat=True)
        )
        ids = list(dict.fromkeys([*started, *due]))
        for customer_id in ids:
            await self.run(customer_id, reason=REQUESTED, actor=None)
        return len(ids)

    async def run(
        self,
        customer_id: uuid.UUID,
        *,
        reason: str,
        actor: str | None,
        until: int | None = None,
    ) -> None:
        """Run the steps in order, each in a transaction of its own (the public step runner:
        `until` stops after that many, as a crash would). Idempotent."""
        run = _Run(reason, actor)
        for _, step in self.steps[:until]:
            await step(customer_id, run)

    # Steps -------------------------------------------------------------------------------------

    async def _start(self, customer_id: uuid.UUID, run: _Run) -> None:
        """From here on the customer is gone for every lookup, and its tokens with it (they
        check the customer's `token_version` against a row no lookup finds)."""
        async with in_transaction():
            row = await Customer.everything.filter(id=customer_id).select_for_update().first()
            if row is None or row.erasure_started_at is not None:
                return
            row.erasure_started_at = datetime.now(UTC)
            row.erasure_reason = run.reason
            row.token_version += 1
            await row.save(update_fields=["erasure_started_at", "erasure_reason", "token_version"])

    async def _close_live(self, customer_id: uuid.UUID, run: _Run) -> None:
        """Its open sockets re-check their caller now and close with 4403."""
        if self.live is not None:
            await self.live.viewer_revoked(ViewerKind.CUSTOMER.value, customer_id)

    async def _cancel_deliveries(self, customer_id: uuid.UUID, run: _Run) -> None:
        """Queued, deferred and digest-held deliveries are never sent. A row a worker holds
        (leased) is left to it: its re-check no longer finds the customer and cancels it the
        same way, or, if it is being handed to a provider this instant, records what happened."""
        free = Q(locked_until__isnull=True) | Q(locked_until__lte=datetime.now(UTC))
        await Delivery.filter(
            free,
            customer_id=customer_id,
            status__in=[DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED],
        ).update(
            status=DeliveryStatus.CANCELLED,
            reason=DeliveryReason.ERASED.value,
            not_before=None,
            locked_until=None,
        )

    async def _minimise_consent(self, customer_id: uuid.UUID, run: _Run) -> None:
        """Evidence becomes the keyed hash of the address the entry was about (when, what and
        source are the entry's own columns). Needs the addresses: runs before the profile goes."""
        row = await Customer.everything.filter(id=customer_id).first()
        if row is None:
            return
        # Whole rows: evidence is encrypted with its row id as associated data, so it is
        # decrypted on load and written back through the row, never by a bulk UPDATE.
        entries = await PermissionEntry.filter(customer_id=customer_id)
        async with in_transaction():
            for entry in entries:
                evidence = entry.evidence
                if isinstance(evidence, dict) and evidence.get("minimal") is True:
                    continue
                channel = entry.channel
                address = address_of(channel, row.id, row.email, row.phone, row.attributes or {})
                minimal: dict = {"minimal": True}
                if address and channel != "in_app":
                    minimal["addressHash"] = self.hasher.digest(channel, address)
                entry.evidence = minimal
                await entry.save(update_fields=["evidence"])

    async def _scrub_content(self, customer_id: uuid.UUID, run: _Run) -> None:
        """Inbox titles and bodies, and the provider texts on its deliveries (they may quote
        the address)."""
        async with in_transaction():
            await Notification.filter(customer_id=customer_id).update(title="", body="", data=None)
            await Delivery.filter(customer_id=customer_id, last_error__isnull=False).update(
                last_error=None
            )
            delivery_ids = Subquery(
                Delivery.filter(customer_id=customer_id).values_list("id", flat=True)
            )
            await DeliveryEvent.filter(delivery_id__in=delivery_ids, detail__isnull=False).update(
                detail=None
            )

    async def _remove_related(self, customer_id: uuid.UUID, run: _Run) -> None:
        async with in_transaction():
            await Device.filter(customer_id=customer_id).delete()
            await Preference.filter(customer_id=customer_id).delete()
            await AccessGrant.filter(customer_id=customer_id).delete()
            await CustomerEvent.filter(customer_id=customer_id).delete()

    async def _scrub_profile(self, customer_id: uuid.UUID, run: _Run) -> None:
        async with in_transaction():
            row = await Customer.everything.filter(id=customer_id).select_for_update().first()
            if row is None or row.erased_at is not None:
                return
            row.update_from_dict(
                {
                    "name": None,
                    "email": None,
                    "phone": None,
                    "attributes": {},
                    "external_id": f"erased:{row.id}",
                    "erased_at": datetime.now(UTC),
                }
            )
            await row.save()
            await record(
                "customer.erased",
                actor=run.actor or row.erasure_requested_by or "system",
                customer_id=row.id,
                detail={"requested": row.erasure_requested_at is not None},
            )
