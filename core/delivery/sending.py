"""The send service: record a message and, in the same transaction, its decided deliveries
(the transactional outbox), or the job that expands a tier in batches."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tidings.core import validation
from tidings.core.address_hash import AddressHasher
from tidings.core.audit import record
from tidings.core.delivery.bulk import RulesJson, write_decided
from tidings.core.delivery.catalogue import CategoryCatalogue
from tidings.core.delivery.deciding import category_rule, decide_deliveries
from tidings.core.delivery.recipients import load_recipients
from tidings.core.delivery.send_request import SendRequest, check_request
from tidings.core.delivery.senders import send_right
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.enums import (
    DeliveryReason,
    DeliveryStatus,
    MessageStatus,
    Role,
    RuleVerdict,
)
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.models import Category, Customer
from tidings.core.models.messages import ExpansionJob, Message, Template
from tidings.core.policy import (
    Decision,
    RuleOutcome,
    decide,
)
from tidings.core.viewer import Viewer


class SendService:
    def __init__(
        self,
        categories: CategoryCatalogue,
        tiers: TierPolicies,
        rules_json: RulesJson | None = None,
        *,
        served: frozenset[str] | None = None,
        hasher: AddressHasher | None = None,
    ) -> None:
        self.categories = categories
        self.tiers = tiers
        self.rules_json = rules_json or RulesJson()
        # Channels some provider serves; None: assume every channel is served.
        self.served = served
        # Hashes addresses to find suppressed ones; None: no address counts as suppressed.
        self.hasher = hasher

    async def _authorise(self, viewer: Viewer, request: SendRequest) -> None:
        """The rule of `senders.send_right`, which expansion asks again: ADMIN and MARKETER
        send to any audience; an AGENT to customers it may SEND to (others look absent)."""
        if (await send_right(viewer)).allows_audience(request.customer_ids):
            return
        if viewer.has_role(Role.AGENT) and request.customer_ids is not None:
            raise NotFoundError("to")
        raise ForbiddenError("Your role may not send to this audience.")

    async def _validate(self, request: SendRequest) -> Category:
        """What needs the database: the category, and a stored template when no content is
        given (the request's own checks ran before anything was looked up)."""
        category = await self.categories.require(request.category)
        if request.title is None and not await Template.filter(category=category.key).exists():
            raise UserInputError(
                "NO_CONTENT",
                "Give content, or store a template for this category first.",
                "content",
            )
        return category

    async def send(self, viewer: Viewer, request: SendRequest) -> Message:
        """Record the message once per idempotency key; the same key with other input conflicts.
        The request's own checks come first, so bad input never reaches a lookup."""
        check_request(request, self.categories)
        await self._authorise(viewer, request)
        existing = await self._existing(viewer, request)
        if existing is not None:
            return existing
        category = await self._validate(request)
        now = datetime.now(UTC)
        schedule_at = validation.utc_datetime(request.schedule_at, "scheduleAt")
        deferred = schedule_at is not None and schedule_at > now
        expand_now = request.tier is None and not deferred
        customer_ids: list[uuid.UUID] = []
        if request.customer_ids is not None:
            customer_ids = list(dict.fromkeys(request.customer_ids))
            # Sent now, the recipients' own query inside the transaction finds them (below).
            if not expand_now:
                await _require_customers(customer_ids)
        try:
            async with in_transaction():
                # Deliveries written in this same transaction: the message is stored EXPANDED
                # at once (no reader can see it before they exist), one UPDATE fewer.
                message = await Message.create(
                    category=category.key,
                    status=MessageStatus.EXPANDED if expand_now else MessageStatus.ACCEPTED,
                    idempotency_scope=viewer.ref,
                    idempotency_key=request.idempotency_key,
                    request_hash=request.fingerprint(),
                    audience=_audience(request),
                    channels=list(request.channels) if request.channels else None,
                    title=request.title,
                    body=request.body,
                    html=request.html,
                    data=request.data,
                    schedule_at=schedule_at,
                    created_by=viewer.ref,
                )
                if not expand_now:
                    await ExpansionJob.create(
                        message=message, tier=request.tier, due_at=schedule_at if deferred else None
                    )
                else:
                    decided, tiers_now = await decide_deliveries(
                        message, category, customer_ids, self.tiers, now, self.hasher
                    )
                    if len(tiers_now) != len(customer_ids):
                        raise NotFoundError("to")  # the message rolls back with the rest
                    await write_decided(message.id, decided, self.rules_json, tiers_now)
                await _record_send(viewer, message, category.key, request, customer_ids, deferred)
        except IntegrityError:
            # Another request with the same key won the race: answer as it did.
            existing = await self._existing(viewer, request)
            if existing is None:
                raise
            return existing
        return message

    async def _existing(self, viewer: Viewer, request: SendRequest) -> Message | None:
        message = await Message.filter(
            idempotency_scope=viewer.ref, idempotency_key=request.idempotency_key
        ).first()
        if message is not None and not request.matches(message.request_hash, message.audience):
            raise UserInputError(
                "IDEMPOTENCY_CONFLICT",
                "This idempotency key was used with different input.",
                "idempotencyKey",
            )
        return message

    async def explain(
        self, viewer: Viewer, customer_id: uuid.UUID, category_key: str, channel: str
    ) -> Decision:
        """The decision a send would get now, and every rule that spoke; nothing is sent."""
        from tidings.core.viewer import can_see_customer

        if not await can_see_customer(viewer, customer_id):
            raise NotFoundError("customerId")
        category = await self.categories.require(category_key)
        self.categories.check_channel(channel)
        now = datetime.now(UTC)
        recipients = await load_recipients([customer_id], category.key, now, self.hasher)
        recipient = recipients.get(customer_id)
        if recipient is None:
            raise NotFoundError("customerId")
        decision = decide(
            category_rule(category), channel, recipient, self.tiers.for_tier(recipient.tier), now
        )
        return self._unserved(decision)

    def _unserved(self, decision: Decision) -> Decision:
        """A delivery the policy lets through still fails when no provider serves its channel
        (the worker records FAILED with NO_PROVIDER): the explanation says so, as one more
        rule, rather than promising a send that cannot happen."""
        if (
            self.served is None
            or decision.channel in self.served
            or decision.status not in (DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED)
        ):
            return decision
        stop = RuleOutcome(
            DeliveryReason.NO_PROVIDER,
            RuleVerdict.STOP,
            f"no provider serves {decision.channel}",
            decision.channel,
        )
        return replace(
            decision,
            status=DeliveryStatus.FAILED,
            reason=DeliveryReason.NO_PROVIDER,
            not_before=None,
            rules=(*decision.rules, stop),
        )


async def _require_customers(customer_ids: list[uuid.UUID]) -> None:
    found = set(await Customer.filter(id__in=customer_ids).values_list("id", flat=True))
    if len(found) != len(customer_ids):
        raise NotFoundError("to")


async def _record_send(
    viewer: Viewer,
    message: Message,
    category: str,
    request: SendRequest,
    customer_ids: list[uuid.UUID],
    scheduled: bool,
) -> None:
    """`message.send`: who sent which category to what kind of audience, and how many (a
    tier's size is known when it is expanded: `message.expand`)."""
    detail: dict = {"category": category, "scheduled": scheduled}
    if request.tier is not None:
        detail.update(audience="tier", tier=request.tier.value, size=None)
    else:
        detail.update(audience="customers", size=len(customer_ids))
    await record(
        "message.send",
        actor=viewer.ref,
        customer_id=customer_ids[0] if len(customer_ids) == 1 else None,
        targets={"message": str(message.id)},
        detail=detail,
    )


def _audience(request: SendRequest) -> dict:
    if request.tier is not None:
        return {"tier": request.tier.value}
    return {"customerIds": [str(cid) for cid in request.customer_ids or ()]}


__all__ = ["DeliveryStatus", "SendRequest", "SendService"]
