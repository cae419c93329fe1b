"""STOP and START replies to SMS (issue 12, item 4): an `OnReply` for the feedback recorder.

A reply from the `http-sms` provider whose text, stripped and case-folded, is `STOP`,
`UNSUBSCRIBE`, `退订` or `TD` withdraws every GRANTED marketing grant on channel "sms" of each
customer with that phone number (ledger source `sms_stop`, the reply as evidence). `START`
grants again exactly what that customer's latest STOP withdrew (source `sms_start`), where
the STOP is still the current state. Both are recorded by the customer, decided under the
ledger's lock, so STOP twice withdraws once and START twice grants once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tidings.core.enums import CategoryKind, DeliveryStatus, GrantStatus
from tidings.core.models import Customer, Delivery, PermissionEntry, PermissionState
from tidings.core.models.categories import Category
from tidings.core.policy import GrantState, effective_grant_status
from tidings.core.services import ledger
from tidings.core.services.ledger import LedgerRecord
from tidings.core.viewer import Viewer, ViewerKind
from tidings.plugins.feedback import Feedback, FeedbackKind

SMS_PROVIDER = "http-sms"
CHANNEL = "sms"
STOP_WORDS = frozenset({"stop", "unsubscribe", "退订", "td"})
START_WORDS = frozenset({"start"})
STOP_SOURCE = "sms_stop"
START_SOURCE = "sms_start"
MAX_EVIDENCE_TEXT = 160
REPLY_CREDIT = timedelta(days=7)  # how far back a STOP looks for the text it answers


def keyword(text: str | None) -> str:
    """The reply as a keyword: surrounding space dropped, any case."""
    return (text or "").strip().casefold()


async def handle_sms_reply(provider: str, feedback: Feedback, maybe_retry: bool = False) -> bool:
    """Act on a STOP or START reply from the built-in SMS provider; True when anything changed.
    `maybe_retry`: the same text came from the same number a moment ago and the vendor gave
    no id to tell a retry from a new reply. A STOP acts anyway (withdrawing twice changes
    nothing, and a customer's second STOP is never lost); a START does not, so a retried
    START never undoes a newer STOP (the customer can send START again)."""
    if provider != SMS_PROVIDER or feedback.kind is not FeedbackKind.REPLIED:
        return False
    if not feedback.sender:
        return False
    word = keyword(feedback.text)
    if word not in STOP_WORDS and (word not in START_WORDS or maybe_retry):
        return False
    customers = await Customer.filter(phone_index=feedback.sender).values_list("id", flat=True)
    now = _aware(feedback.at) or datetime.now(UTC)
    evidence = {
        "text": (feedback.text or "")[:MAX_EVIDENCE_TEXT],
        "at": now.isoformat(),
        "provider": provider,
    }
    acted = False
    for customer_id in customers:
        if word in STOP_WORDS:
            acted = await stop(customer_id, evidence, now) or acted
        else:
            acted = await start(customer_id, evidence, now) or acted
    return acted


async def stop(customer_id: uuid.UUID, evidence: dict, now: datetime) -> bool:
    """Withdraw every marketing SMS grant of the customer that is GRANTED right now."""
    marketing = await Category.filter(kind=CategoryKind.MARKETING).values_list("key", flat=True)
    if not marketing:
        return False
    states = await PermissionState.filter(
        customer_id=customer_id,
        channel=CHANNEL,
        category__in=list(marketing),
        status=GrantStatus.GRANTED,
    ).values_list("category", flat=True)
    recorded_by = Viewer(ViewerKind.CUSTOMER, customer_id).ref
    withdrew = False
    for category in sorted(states):

        async def decide(state: PermissionState | None) -> LedgerRecord | None:
            if state is None or not _granted(state, now):
                return None  # withdrawn meanwhile (a STOP replayed or raced): nothing to do
            kept = dict(evidence)
            if state.expires_at is not None:  # so START restores the grant as it was
                kept["grantExpiresAt"] = _aware(state.expires_at).isoformat()  # type: ignore[union-attr]
            return LedgerRecord(
                GrantStatus.WITHDRAWN,
                STOP_SOURCE,
                kept,
                granted_at=state.granted_at,
                withdrawn_at=now,
            )

        entry = await ledger.append(customer_id, CHANNEL, category, recorded_by, decide)
        withdrew = withdrew or entry is not None
    if withdrew:
        await credit_stop(customer_id, now)
    return withdrew


async def credit_stop(customer_id: uuid.UUID, now: datetime) -> None:
    """The stats credit a STOP to the text it answers: the customer's latest marketing SMS
    sent in the REPLY_CREDIT before it, if any."""
    marketing = await Category.filter(kind=CategoryKind.MARKETING).values_list("key", flat=True)
    latest = (
        await Delivery.filter(
            customer_id=customer_id,
            channel=CHANNEL,
            status__in=(DeliveryStatus.SENT, DeliveryStatus.DELIVERED),
            created_at__gte=now - REPLY_CREDIT,
            created_at__lte=now,
            message__category__in=list(marketing),
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if latest is not None and latest.unsubscribed_at is None:
        await Delivery.filter(id=latest.id).update(unsubscribed_at=now)


async def start(customer_id: uuid.UUID, evidence: dict, now: datetime) -> bool:
    """Grant again what the customer's latest STOP withdrew, where that STOP still stands."""
    entries = await PermissionEntry.filter(
        customer_id=customer_id, channel=CHANNEL, source=STOP_SOURCE
    ).order_by("-recorded_at")
    if not entries:
        return False
    last_at = (entries[0].evidence or {}).get("at")
    latest = [e for e in entries if (e.evidence or {}).get("at") == last_at]
    recorded_by = Viewer(ViewerKind.CUSTOMER, customer_id).ref
    granted = False
    for stopped in latest:

        async def decide(
            state: PermissionState | None, stopped: PermissionEntry = stopped
        ) -> LedgerRecord | None:
            if state is None or state.entry_id != stopped.id:
                return None  # changed since the STOP (or already started): leave it be
            expires = (stopped.evidence or {}).get("grantExpiresAt")
            expires_at = datetime.fromisoformat(expires) if expires else None
            if expires_at is not None and expires_at <= now:
                return None  # the grant would have expired by now: nothing to restore
            return LedgerRecord(
                GrantStatus.GRANTED, START_SOURCE, evidence, granted_at=now, expires_at=expires_at
            )

        entry = await ledger.append(customer_id, CHANNEL, stopped.category, recorded_by, decide)
        granted = granted or entry is not None
    return granted


def _granted(state: PermissionState, now: datetime) -> bool:
    status = effective_grant_status(
        GrantState(status=state.status, expires_at=_aware(state.expires_at)), now
    )
    return status is GrantStatus.GRANTED


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
