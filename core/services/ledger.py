"""The consent ledger's one write path: append an entry and fold it into the current state,
under the state row's lock, in one transaction. (And the preference row's locked upsert.)

What to append is decided inside the lock (`decide` sees the locked state), so a grant can
tell whether confirmation is still needed, and a confirmation whether its pending entry is
still the current one, without racing a concurrent change. `after` runs in the same
transaction (the confirmation mail is queued there, so it exists exactly when its entry does),
and so does the CONSENT webhook event of every entry (core/webhooks/outbox.py), and its
audit entry (`consent.grant`, `consent.withdraw`, `consent.pending`): every path that changes
consent (API, pages, unsubscribe, STOP replies, complaints, confirmation) comes through here.
And the preference row's `preference.update`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tidings.core.audit import record
from tidings.core.enums import Frequency, GrantStatus
from tidings.core.models import PermissionEntry, PermissionState, Preference
from tidings.core.webhooks.outbox import consent_recorded


@dataclass(frozen=True)
class LedgerRecord:
    """One entry to append, as `decide` chose it."""

    status: GrantStatus
    source: str
    evidence: dict | None
    granted_at: datetime | None = None
    withdrawn_at: datetime | None = None
    expires_at: datetime | None = None


# The audit action of each status an entry can be appended with.
CONSENT_ACTIONS = {
    GrantStatus.GRANTED: "consent.grant",
    GrantStatus.WITHDRAWN: "consent.withdraw",
    GrantStatus.PENDING: "consent.pending",
}
ACTOR_KINDS = ("staff", "api_key", "customer")


def audit_actor(recorded_by: str) -> str:
    """The audit actor of a ledger's `recorded_by`: a caller's ref as it is, anything else
    ("system:complaint") the system."""
    kind, _, raw = recorded_by.partition(":")
    return recorded_by if kind in ACTOR_KINDS and raw else "system"


async def record_consent(entry: PermissionEntry) -> None:
    await record(
        CONSENT_ACTIONS.get(entry.status, "consent.record"),
        actor=audit_actor(entry.recorded_by),
        customer_id=entry.customer_id,
        targets={"entry": str(entry.id)},
        detail={
            "channel": entry.channel,
            "category": entry.category,
            "status": GrantStatus(entry.status).value,
            "source": entry.source,
        },
    )


Decide = Callable[[PermissionState | None], Awaitable[LedgerRecord | None]]
After = Callable[[PermissionEntry], Awaitable[None]]


async def append(
    customer_id: uuid.UUID,
    channel: str,
    category: str,
    recorded_by: str,
    decide: Decide,
    after: After | None = None,
) -> PermissionEntry | None:
    """Append what `decide` returns (None: nothing) and fold it into the state.

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
                record = await decide(state)
                if record is None:
                    return None
                entry = await PermissionEntry.create(
                    customer_id=customer_id,
                    channel=channel,
                    category=category,
                    status=record.status,
                    source=record.source,
                    evidence=record.evidence,
                    granted_at=record.granted_at,
                    withdrawn_at=record.withdrawn_at,
                    expires_at=record.expires_at,
                    recorded_by=recorded_by,
                )
                values = {
                    "status": record.status,
                    "source": record.source,
                    "granted_at": record.granted_at,
                    "withdrawn_at": record.withdrawn_at,
                    "expires_at": record.expires_at,
                    "entry_id": entry.id,
                }
                if state is None:
                    await PermissionState.create(
                        customer_id=customer_id, channel=channel, category=category, **values
                    )
                else:
                    state.update_from_dict(values)
                    await state.save(update_fields=[*values.keys(), "updated_at"])
                if after is not None:
                    await after(entry)
                await consent_recorded(entry)  # the CONSENT webhook rows commit with it
                await record_consent(entry)
            return entry
        except IntegrityError:
            if retry:
                raise
    raise AssertionError("unreachable")


async def store_preference(
    customer_id: uuid.UUID, category: str, values: dict, actor: str | None = None
) -> Preference:
    """Create or replace the one preference row, under its lock, and record
    `preference.update` by `actor` (default: the request's) in the same transaction.

    As in `append`: the first two changes for one customer × category can race to create
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
                    preference = await Preference.create(
                        customer_id=customer_id, category=category, **values
                    )
                else:
                    preference.update_from_dict(values)
                    await preference.save(update_fields=[*values.keys(), "updated_at"])
                await record(
                    "preference.update",
                    actor=actor,
                    customer_id=customer_id,
                    targets={"preference": str(preference.id)},
                    detail={
                        "category": category,
                        "channels": list(preference.channels),
                        "frequency": Frequency(preference.frequency).value,
                        "quietHours": preference.quiet_start is not None,
                    },
                )
                return preference
        except IntegrityError:
            if retry:
                raise
    raise AssertionError("unreachable")
