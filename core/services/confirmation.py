"""Confirmed opt-in for email (issue 11, item 4).

When a category asks for it (`Category.confirm_email`) or TIDINGS_EMAIL_CONFIRMATION is
`required`, an email grant is recorded PENDING (it permits nothing: the policy engine reads
"awaiting confirmation") and, in the same transaction, a confirmation mail is queued: a
`Message` of kind "confirmation" with one QUEUED email delivery. That delivery skips the
consent rules (it is what consent waits on) but still needs an address.

The mail's link (`/confirm/<token>`) names the PENDING entry. Confirming records a GRANTED
entry by the customer, keeping the pending entry's source, expiry and evidence, adding the
confirmation's own evidence and the id of the entry it confirms (`"confirms"`), so a second
press is recognised (ALREADY_CONFIRMED) and appends nothing.

A customer who asks again while PENDING gets a new PENDING entry, and a new mail unless one
went out for the category in the last ten minutes. Until a newer mail goes out, the older
link stays good: it confirms the latest request.
"""

from __future__ import annotations

import hashlib
import html
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from tidings.core import validation
from tidings.core.enums import (
    DeliveryReason,
    DeliveryStatus,
    EmailConfirmation,
    GrantStatus,
    MessageKind,
    MessageStatus,
    RuleVerdict,
)
from tidings.core.links import LinkSigner
from tidings.core.models import Category, Customer, PermissionEntry, PermissionState
from tidings.core.models.messages import Delivery, Message
from tidings.core.policy import GrantState, RuleOutcome, effective_grant_status, stored_rules
from tidings.core.services import ledger
from tidings.core.services.categories import CategoryService
from tidings.core.services.ledger import LedgerRecord
from tidings.core.viewer import Viewer, ViewerKind

EMAIL = "email"
# Messages of confirmation mails are scoped here, keyed by the PENDING entry's id.
CONFIRMATION_SCOPE = "system:confirmation"
# At most one confirmation mail per customer × category in this long.
RESEND_AFTER = timedelta(minutes=10)


class ConfirmOutcome(str, Enum):
    """What pressing a confirmation link's button did (or, from `pending_entry`, would do)."""

    CONFIRMED = "CONFIRMED"
    ALREADY_CONFIRMED = "ALREADY_CONFIRMED"
    SUPERSEDED = "SUPERSEDED"
    NOT_FOUND = "NOT_FOUND"


@dataclass(frozen=True)
class PendingConfirmation:
    """What a confirmation link is about, for the page that asks the customer to confirm.
    `outcome`: what `confirm` would answer now (CONFIRMED: it is awaiting confirmation)."""

    entry_id: uuid.UUID
    customer_id: uuid.UUID
    category: str
    category_name: str
    category_description: str | None
    channel: str
    locale: str
    outcome: ConfirmOutcome


def needs_confirmation(category: Category, channel: str, mode: EmailConfirmation) -> bool:
    return channel == EMAIL and (category.confirm_email or mode is EmailConfirmation.REQUIRED)


def is_confirmed(state: PermissionState | None, now: datetime) -> bool:
    """Already GRANTED and unexpired: granting again needs no new confirmation."""
    if state is None:
        return False
    grant = GrantState(status=state.status, expires_at=state.expires_at)
    return effective_grant_status(grant, now) is GrantStatus.GRANTED


# The mail, in the customer's language ------------------------------------------------------

_TEXT = {
    "en": {
        "title": "Please confirm: {name} by email",
        "ask": "Please confirm you want {name} by email.",
        "button": "Confirm",
        "ignore": "If you did not ask for this, ignore this mail: nothing more will be sent.",
    },
    "zh-CN": {
        "title": "请确认：通过电子邮件接收“{name}”",
        "ask": "请确认您希望通过电子邮件接收“{name}”。",
        "button": "确认",
        "ignore": "如果这不是您本人的操作，请忽略此邮件，我们不会再发送此类邮件。",
    },
}


def mail_language(locale: str | None) -> str:
    return "zh-CN" if (locale or "").lower().startswith("zh") else "en"


def confirmation_content(locale: str | None, category_name: str, url: str) -> tuple[str, str, str]:
    """(title, text body, HTML body) of the confirmation mail."""
    text = _TEXT[mail_language(locale)]
    title = text["title"].format(name=category_name)
    ask = text["ask"].format(name=category_name)
    body = f"{ask}\n\n{text['button']}: {url}\n\n{text['ignore']}\n"
    safe_url = html.escape(url, quote=True)
    page = (
        f"<p>{html.escape(ask)}</p>\n"
        f'<p><a href="{safe_url}" style="display:inline-block;padding:10px 20px;'
        f'background:#1a56db;color:#ffffff;text-decoration:none;border-radius:4px">'
        f"{html.escape(text['button'])}</a></p>\n"
        f'<p>{html.escape(url)}</p>\n<p style="color:#555555">{html.escape(text["ignore"])}</p>\n'
    )
    return title, body, page


_SKIPPED = "confirmation mail: asks for this permission itself"
_RULES = stored_rules(
    RuleOutcome(rule, RuleVerdict.SKIP, _SKIPPED, EMAIL)
    for rule in (
        DeliveryReason.NO_PERMISSION,
        DeliveryReason.OPTED_OUT,
        DeliveryReason.FREQUENCY_CAP,
        DeliveryReason.QUIET_HOURS,
        DeliveryReason.DIGEST,
    )
)


async def queue_confirmation(
    entry: PermissionEntry,
    customer: Customer,
    category: Category,
    links: LinkSigner,
    created_by: str,
    now: datetime,
) -> Message | None:
    """Queue the confirmation mail for a PENDING entry (inside the ledger's transaction),
    unless one went out for this customer × category within RESEND_AFTER. The worker finds
    the address when it sends (no email: SUPPRESSED NO_ADDRESS)."""
    recent = await Delivery.filter(
        customer_id=customer.id,
        channel=EMAIL,
        message__kind=MessageKind.CONFIRMATION.value,
        message__category=category.key,
        created_at__gte=now - RESEND_AFTER,
    ).exists()
    if recent:
        return None
    url = links.confirm_url(customer.id, category.key, EMAIL, entry.id)
    title, body, page = confirmation_content(customer.locale, category.name, url)
    message = await Message.create(
        category=category.key,
        kind=MessageKind.CONFIRMATION.value,
        status=MessageStatus.EXPANDED,
        idempotency_scope=CONFIRMATION_SCOPE,
        idempotency_key=str(entry.id),
        request_hash=hashlib.sha256(str(entry.id).encode()).hexdigest(),
        audience={"customerIds": [str(customer.id)]},
        channels=[EMAIL],
        title=title,
        body=body,
        html=page,
        created_by=created_by,
    )
    await Delivery.create(
        message=message,
        customer_id=customer.id,
        channel=EMAIL,
        status=DeliveryStatus.QUEUED,
        tier=customer.tier.value,
        rules=_RULES,
        not_before=now,
    )
    return message


# Confirming ---------------------------------------------------------------------------------


async def judge(
    pending: PermissionEntry, state: PermissionState | None
) -> tuple[ConfirmOutcome, PermissionEntry | None]:
    """What confirming `pending` does given the current state, and the PENDING entry it
    would confirm (the latest request, when no newer mail superseded `pending`'s link)."""
    if state is None:
        return ConfirmOutcome.SUPERSEDED, None
    if state.status is GrantStatus.GRANTED:
        current = await PermissionEntry.filter(id=state.entry_id).first()
        confirms = (current.evidence or {}).get("confirms") if current is not None else None
        if confirms == str(pending.id):
            return ConfirmOutcome.ALREADY_CONFIRMED, None
        return ConfirmOutcome.SUPERSEDED, None
    if state.status is not GrantStatus.PENDING:
        return ConfirmOutcome.SUPERSEDED, None
    if state.entry_id == pending.id:
        return ConfirmOutcome.CONFIRMED, pending
    later = await PermissionEntry.filter(
        customer_id=pending.customer_id,
        channel=pending.channel,
        category=pending.category,
        id__gt=pending.id,
    ).values_list("id", "status")
    if any(GrantStatus(status) is not GrantStatus.PENDING for _, status in later):
        return ConfirmOutcome.SUPERSEDED, None
    mailed_since = await Message.filter(
        idempotency_scope=CONFIRMATION_SCOPE,
        idempotency_key__in=[str(entry_id) for entry_id, _ in later],
    ).exists()
    if mailed_since:
        return ConfirmOutcome.SUPERSEDED, None
    latest = await PermissionEntry.filter(id=state.entry_id).first()
    return (ConfirmOutcome.CONFIRMED, latest) if latest else (ConfirmOutcome.SUPERSEDED, None)


def confirmed_record(
    pending: PermissionEntry, latest: PermissionEntry, evidence: dict | None, now: datetime
) -> LedgerRecord:
    """The GRANTED entry a confirmation appends: the request's source, expiry and evidence,
    the confirmation's evidence, and which entry's link was confirmed."""
    return LedgerRecord(
        status=GrantStatus.GRANTED,
        source=latest.source,
        evidence={
            **(latest.evidence or {}),
            "confirmation": evidence or {},
            "confirms": str(pending.id),
        },
        granted_at=now,
        expires_at=latest.expires_at,
    )


async def confirm(
    customer_id: uuid.UUID, entry_id: uuid.UUID, evidence: dict | None
) -> ConfirmOutcome:
    """`ConsentService.confirm`: judged and appended under the state row's lock."""
    pending = await PermissionEntry.filter(
        id=entry_id, customer_id=customer_id, status=GrantStatus.PENDING
    ).first()
    if pending is None:
        return ConfirmOutcome.NOT_FOUND
    evidence = validation.json_object(evidence, "evidence", validation.MAX_EVIDENCE_BYTES)
    outcome = ConfirmOutcome.SUPERSEDED
    now = datetime.now(UTC)

    async def decide(state: PermissionState | None) -> LedgerRecord | None:
        nonlocal outcome
        outcome, latest = await judge(pending, state)
        if latest is None:
            return None
        return confirmed_record(pending, latest, evidence, now)

    recorded_by = Viewer(ViewerKind.CUSTOMER, customer_id).ref
    await ledger.append(customer_id, pending.channel, pending.category, recorded_by, decide)
    return outcome


async def describe(
    categories: CategoryService, customer_id: uuid.UUID, entry_id: uuid.UUID
) -> PendingConfirmation | None:
    """`ConsentService.pending_entry`: reads only."""
    pending = await PermissionEntry.filter(
        id=entry_id, customer_id=customer_id, status=GrantStatus.PENDING
    ).first()
    customer = await Customer.filter(id=customer_id).first()
    if pending is None or customer is None:
        return None
    category = await categories.get(pending.category)
    state = await PermissionState.filter(
        customer_id=customer_id, channel=pending.channel, category=pending.category
    ).first()
    outcome, _ = await judge(pending, state)
    return PendingConfirmation(
        entry_id=pending.id,
        customer_id=customer_id,
        category=pending.category,
        category_name=category.name if category is not None else pending.category,
        category_description=category.description if category is not None else None,
        channel=pending.channel,
        locale=customer.locale,
        outcome=outcome,
    )
