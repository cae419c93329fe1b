"""The delivery worker: claim due deliveries, re-check consent, hand them to providers with
failover, and record every outcome (retry, fail, fall back) on the row."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from tidings.core.delivery.bulk import update_rows
from tidings.core.delivery.claims import claim_digests, claim_due
from tidings.core.delivery.outbound import Prepared, prepare
from tidings.core.delivery.recipients import load_recipients
from tidings.core.delivery.registry import ProviderRegistry
from tidings.core.delivery.render import Content, digest_content
from tidings.core.delivery.retry import RetryPolicy
from tidings.core.delivery.sending import category_rule, delivery_row
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.models import Category, Device
from tidings.core.models.enums import CategoryKind, DeliveryStatus
from tidings.core.models.messages import Delivery, Message
from tidings.core.policy import Recipient, decide
from tidings.plugins.errors import (
    DeliveryError,
    InvalidAddressError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from tidings.plugins.interface import OutboundMessage, SendResult

logger = logging.getLogger("tidings.delivery")


@dataclass
class Outcome:
    status: DeliveryStatus
    reason: str | None = None
    provider: str | None = None
    provider_id: str | None = None
    error: str | None = None
    retry_after: float | None = None
    invalid_devices: list[uuid.UUID] = field(default_factory=list)


@dataclass
class WorkerOptions:
    batch_size: int = 100
    lease: timedelta = timedelta(seconds=120)
    idle_sleep: float = 0.5
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class DeliveryWorker:
    def __init__(
        self,
        registry: ProviderRegistry,
        tiers: TierPolicies,
        options: WorkerOptions | None = None,
        *,
        on_change: Callable[[Sequence[Delivery]], object] | None = None,
    ) -> None:
        self.registry = registry
        self.tiers = tiers
        self.options = options or WorkerOptions()
        self.on_change = on_change
        self.wakeup = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; sleeps briefly when there is nothing due."""
        from tidings.core.delivery.expansion import expand_due

        await self.registry.start()
        while not stop.is_set():
            try:
                done = await expand_due(self.tiers, datetime.now(UTC))
                done += await self.run_once()
            except Exception:  # a failed round is logged and retried; rows stay leased
                logger.exception("delivery round failed")
                done = 0
            if done == 0:
                self.wakeup.clear()
                waiters = [
                    asyncio.ensure_future(stop.wait()),
                    asyncio.ensure_future(self.wakeup.wait()),
                ]
                await asyncio.wait(
                    waiters, timeout=self.options.idle_sleep, return_when=asyncio.FIRST_COMPLETED
                )
                for waiter in waiters:
                    waiter.cancel()

    async def run_once(self, now: datetime | None = None) -> int:
        """Claim and process one batch. Returns how many deliveries it handled."""
        now = now or datetime.now(UTC)
        await self.registry.start()
        ids = await claim_due(now, self.options.batch_size, self.options.lease)
        if not ids:
            return await self.run_digests(now)  # held digests are due on idle rounds too
        deliveries = await Delivery.filter(id__in=ids)
        messages = {
            m.id: m for m in await Message.filter(id__in={d.message_id for d in deliveries})
        }
        categories = {
            c.key: c for c in await Category.filter(key__in={m.category for m in messages.values()})
        }
        ready, settled = await self._recheck(deliveries, messages, categories, now)
        outcomes: dict[uuid.UUID, Outcome] = {}
        prepared = await prepare(ready, messages)
        for item in prepared:
            if item.problem is not None:
                outcomes[item.delivery.id] = _problem_outcome(item.problem)
        outcomes.update(await self._send([p for p in prepared if p.problem is None]))
        changed = await self._record(ready, outcomes, messages, categories, now)
        if self.on_change is not None:
            self.on_change([*settled, *changed])
        return len(deliveries) + await self.run_digests(now)

    async def run_digests(self, now: datetime) -> int:
        """Release held digest deliveries whose period ended: one combined message per
        customer × channel, after every rule but the digest is checked again."""
        limit = self.options.batch_size * 5
        ids = await claim_digests(now, limit, self.options.lease)
        if not ids:
            return 0
        rows = await Delivery.filter(id__in=ids).order_by("customer_id", "channel", "id")
        if len(ids) == limit:
            # The claim may have cut the last customer's held rows in two: hand that group
            # back, whole, to the next round, so each customer gets one digest.
            last = (rows[-1].customer_id, rows[-1].channel)
            tail = [r for r in rows if (r.customer_id, r.channel) == last]
            if len(tail) < len(rows):
                await Delivery.filter(id__in=[r.id for r in tail]).update(locked_until=None)
                rows = rows[: len(rows) - len(tail)]
        messages = {m.id: m for m in await Message.filter(id__in={d.message_id for d in rows})}
        categories = {
            c.key: c for c in await Category.filter(key__in={m.category for m in messages.values()})
        }
        ready, settled = await self._recheck(rows, messages, categories, now, digest_due=True)
        groups: dict[tuple[uuid.UUID, str], list[Prepared]] = defaultdict(list)
        outcomes: dict[uuid.UUID, Outcome] = {}
        for item in await prepare(ready, messages):
            if item.problem is not None:
                outcomes[item.delivery.id] = _problem_outcome(item.problem)
            else:
                groups[(item.delivery.customer_id, item.delivery.channel)].append(item)
        combined = [_combine_digest(items) for items in groups.values()]
        sent = await self._send(combined)
        for lead, items in zip(combined, groups.values(), strict=True):
            for item in items:
                outcomes[item.delivery.id] = sent[lead.delivery.id]
        changed = await self._record(ready, outcomes, messages, categories, now)
        if self.on_change is not None:
            self.on_change([*settled, *changed])
        return len(rows)

    async def _recheck(
        self,
        deliveries: Sequence[Delivery],
        messages: dict[uuid.UUID, Message],
        categories: dict[str, Category],
        now: datetime,
        *,
        digest_due: bool = False,
    ) -> tuple[list[Delivery], list[Delivery]]:
        """Consent may have changed since the decision: decide deferred rows again, and check
        marketing permission on queued ones. Returns (to send now, settled otherwise)."""
        ready: list[Delivery] = []
        settled: list[Delivery] = []
        by_category: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in deliveries:
            by_category[messages[delivery.message_id].category].append(delivery)
        for key, rows in by_category.items():
            category = categories.get(key)
            if category is None:
                for row in rows:
                    _settle(row, DeliveryStatus.FAILED, "UNKNOWN_CATEGORY")
                    settled.append(row)
                continue
            recipients, _ = await load_recipients([r.customer_id for r in rows], key, now)
            rule = category_rule(category)
            for row in rows:
                recipient = recipients.get(row.customer_id)
                if recipient is None:
                    _settle(row, DeliveryStatus.SUPPRESSED, "NO_ADDRESS")
                    settled.append(row)
                    continue
                if row.status is DeliveryStatus.DEFERRED:
                    decision = decide(
                        rule,
                        row.channel,
                        recipient,
                        self.tiers.for_tier(recipient.tier),
                        now,
                        fallback=False,
                        digest_due=digest_due,
                    )
                    row.rules = [
                        *row.rules,
                        *(
                            {"rule": r.rule, "verdict": r.verdict, "detail": r.detail}
                            for r in decision.rules
                        ),
                    ]
                    if (
                        decision.status is not DeliveryStatus.QUEUED
                        or decision.channel != row.channel
                    ):
                        _settle(row, decision.status, decision.reason, decision.not_before)
                        settled.append(row)
                        continue
                    row.status = DeliveryStatus.QUEUED
                    row.reason = None
                elif category.kind is CategoryKind.MARKETING and not _granted(
                    recipient, row.channel, key, now
                ):
                    _settle(row, DeliveryStatus.SUPPRESSED, "NO_PERMISSION")
                    settled.append(row)
                    continue
                elif _opted_out(recipient, row.channel, category.required):
                    _settle(row, DeliveryStatus.SUPPRESSED, "OPTED_OUT")
                    settled.append(row)
                    continue
                ready.append(row)
        if settled:
            await update_rows(
                settled, ["status", "reason", "not_before", "locked_until", "rules", "attempts"]
            )
        return ready, settled

    async def _send(self, prepared: Sequence[Prepared]) -> dict[uuid.UUID, Outcome]:
        """Hand each channel's messages to its providers, failing over on transient errors."""
        outcomes: dict[uuid.UUID, Outcome] = {}
        by_channel: dict[str, list[Prepared]] = defaultdict(list)
        for item in prepared:
            by_channel[item.delivery.channel].append(item)
        for channel, items in by_channel.items():
            providers = self.registry.for_channel(channel)
            if not providers:
                for item in items:
                    outcomes[item.delivery.id] = Outcome(DeliveryStatus.FAILED, "NO_PROVIDER")
                continue
            pending = items
            for index, provider in enumerate(providers):
                last = index == len(providers) - 1
                results = await _send_all(provider, [m for item in pending for m in item.outbound])
                retry: list[Prepared] = []
                position = 0
                for item in pending:
                    item_results = results[position : position + len(item.outbound)]
                    position += len(item.outbound)
                    outcome = _combine(provider.name, item, item_results, channel)
                    if outcome.status is DeliveryStatus.QUEUED and not last:
                        retry.append(item)  # transient: the next provider may be up
                    else:
                        outcomes[item.delivery.id] = outcome
                pending = retry
                if not pending:
                    break
        return outcomes

    async def _record(
        self,
        rows: Sequence[Delivery],
        outcomes: dict[uuid.UUID, Outcome],
        messages: dict[uuid.UUID, Message],
        categories: dict[str, Category],
        now: datetime,
    ) -> list[Delivery]:
        """Write outcomes; schedule retries; retire dead devices; create fallback deliveries."""
        retry = self.options.retry
        changed: list[Delivery] = []
        fallbacks: list[Delivery] = []
        dead_devices: list[uuid.UUID] = []
        for row in rows:
            outcome = outcomes.get(row.id)
            if outcome is None:
                continue
            dead_devices.extend(outcome.invalid_devices)
            row.locked_until = None
            row.provider = outcome.provider
            row.provider_id = outcome.provider_id
            row.last_error = outcome.error
            if outcome.status is DeliveryStatus.QUEUED:  # transient everywhere
                if retry.exhausted(row.attempts):
                    row.status, row.reason = DeliveryStatus.FAILED, "RETRIES_EXHAUSTED"
                else:
                    row.status, row.reason = DeliveryStatus.QUEUED, None
                    row.not_before = now + timedelta(
                        seconds=retry.delay(row.attempts, outcome.retry_after)
                    )
            else:
                row.status, row.reason = outcome.status, outcome.reason
            changed.append(row)
            if row.reason in ("NO_ADDRESS", "NO_PROVIDER", "INVALID_ADDRESS", "REJECTED"):
                category = categories.get(messages[row.message_id].category)
                fallback = await self._fallback(row, category, now)
                if fallback is not None:
                    fallbacks.append(fallback)
        async with in_transaction():
            if changed:
                await update_rows(
                    changed,
                    [
                        "status",
                        "reason",
                        "not_before",
                        "locked_until",
                        "provider",
                        "provider_id",
                        "last_error",
                        "rules",
                    ],
                )
            if fallbacks:
                await Delivery.bulk_create(fallbacks)
            if dead_devices:
                await Device.filter(id__in=dead_devices).delete()
        return [*changed, *fallbacks]

    async def _fallback(
        self, row: Delivery, category: Category | None, now: datetime
    ) -> Delivery | None:
        """The category's fallback channel, decided afresh, once per message × customer."""
        if (
            category is None
            or not category.fallback_channel
            or category.fallback_channel == row.channel
        ):
            return None
        if await Delivery.filter(
            message_id=row.message_id,
            customer_id=row.customer_id,
            channel=category.fallback_channel,
        ).exists():
            return None
        recipients, _ = await load_recipients([row.customer_id], category.key, now)
        recipient = recipients.get(row.customer_id)
        if recipient is None:
            return None
        decision = decide(
            category_rule(category),
            category.fallback_channel,
            recipient,
            self.tiers.for_tier(recipient.tier),
            now,
        )
        return delivery_row(row.message_id, row.customer_id, decision)


def _problem_outcome(problem: str) -> Outcome:
    """A delivery that cannot be handed to a provider: no address left (the customer changed
    since the decision), or a template that failed to render (refused for good: REJECTED)."""
    if problem == "NO_ADDRESS":
        return Outcome(DeliveryStatus.SUPPRESSED, "NO_ADDRESS")
    return Outcome(DeliveryStatus.FAILED, "REJECTED", error="the template failed to render")


def _combine_digest(items: Sequence[Prepared]) -> Prepared:
    """One message standing for a customer's held deliveries on one channel; it carries the
    first delivery's id, so a retry of the same digest is recognised by the provider."""
    lead = items[0]
    content = digest_content(
        (Content(item.outbound[0].title, item.outbound[0].body) for item in items),
        lead.outbound[0].locale,
    )
    outbound = [
        replace(message, title=content.title, body=content.body, html=None, category="digest")
        for message in lead.outbound
    ]
    return Prepared(lead.delivery, outbound, lead.device_ids)


def _opted_out(recipient: Recipient, channel: str, required: bool) -> bool:
    """The customer changed its preference after the decision and left this channel out."""
    preference = recipient.preference
    return (
        not required
        and preference is not None
        and bool(preference.channels)
        and channel not in preference.channels
    )


def _granted(recipient: object, channel: str, category: str, now: datetime) -> bool:
    from tidings.core.models.enums import GrantStatus

    grant = recipient.grants.get((channel, category))  # type: ignore[attr-defined]
    return (
        grant is not None
        and grant.status is GrantStatus.GRANTED
        and (grant.expires_at is None or grant.expires_at > now)
    )


def _settle(
    row: Delivery, status: DeliveryStatus, reason: str | None, not_before: datetime | None = None
) -> None:
    row.status = status
    row.reason = reason
    row.not_before = not_before
    row.locked_until = None
    if status is DeliveryStatus.DEFERRED:
        row.attempts = max(0, row.attempts - 1)  # a deferral is not a delivery attempt


async def _send_all(provider: object, batch: list[OutboundMessage]) -> list[SendResult]:
    """Send in chunks of the provider's max_batch; a raised error fails its whole chunk."""
    results: list[SendResult] = []
    size = max(1, int(provider.max_batch))  # type: ignore[attr-defined]
    for start in range(0, len(batch), size):
        chunk = batch[start : start + size]
        try:
            answered = list(await provider.send(chunk))  # type: ignore[attr-defined]
            if len(answered) != len(chunk):
                raise TransientDeliveryError("provider returned a wrong number of results")
        except DeliveryError as error:
            answered = [SendResult(ok=False, error=error)] * len(chunk)
        except Exception as error:  # anything else counts as transient (contract)
            answered = [
                SendResult(ok=False, error=TransientDeliveryError(type(error).__name__))
            ] * len(chunk)
        results.extend(answered)
    return results


def _combine(provider: str, item: Prepared, results: Sequence[SendResult], channel: str) -> Outcome:
    """One delivery's outcome from its messages' results (push: any device reached is enough)."""
    delivered = DeliveryStatus.DELIVERED if channel == "in_app" else DeliveryStatus.SENT
    invalid = [
        device
        for device, result in zip(item.device_ids, results, strict=False)
        if isinstance(result.error, InvalidAddressError)
    ]
    ok = [r for r in results if r.ok]
    if ok:
        return Outcome(delivered, None, provider, ok[0].provider_id, invalid_devices=invalid)
    errors = [r.error for r in results]
    if all(isinstance(e, InvalidAddressError) for e in errors):
        return Outcome(
            DeliveryStatus.FAILED,
            "INVALID_ADDRESS",
            provider,
            error=_message(errors),
            invalid_devices=invalid,
        )
    transient = [e for e in errors if isinstance(e, TransientDeliveryError)]
    if transient:
        after = max((e.retry_after or 0 for e in transient), default=0) or None
        return Outcome(
            DeliveryStatus.QUEUED,
            None,
            provider,
            error=_message(errors),
            retry_after=after,
            invalid_devices=invalid,
        )
    if any(isinstance(e, PermanentDeliveryError) for e in errors):
        return Outcome(
            DeliveryStatus.FAILED,
            "REJECTED",
            provider,
            error=_message(errors),
            invalid_devices=invalid,
        )
    return Outcome(
        DeliveryStatus.QUEUED, None, provider, error=_message(errors), invalid_devices=invalid
    )


def _message(errors: Sequence[DeliveryError | None]) -> str:
    first = next((e for e in errors if e is not None), None)
    if first is None:
        return "unknown error"
    return f"{type(first).__name__}: {first.message}"[:1000]
