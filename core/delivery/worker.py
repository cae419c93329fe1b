"""The delivery worker: claim due deliveries, re-check consent, hand them to providers with
failover, and record every outcome (retry, fail, fall back) on the row."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from tidings.core.delivery.bulk import update_rows
from tidings.core.delivery.claims import claim_digests, claim_due
from tidings.core.delivery.outbound import Prepared, prepare
from tidings.core.delivery.outcomes import Outcome, combine, problem_outcome, send_all
from tidings.core.delivery.recheck import recheck
from tidings.core.delivery.recipients import load_recipients
from tidings.core.delivery.registry import ProviderRegistry
from tidings.core.delivery.render import Content, digest_content
from tidings.core.delivery.retry import RetryPolicy
from tidings.core.delivery.sending import category_rule, delivery_row
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.enums import DeliveryStatus
from tidings.core.models import Category, Device
from tidings.core.models.messages import Delivery, Message
from tidings.core.policy import decide

logger = logging.getLogger("tidings.delivery")


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
        on_change: Callable[[Sequence[Delivery]], Awaitable[None]] | None = None,
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
        # In creation order, so a customer's in-app notifications are stored as sent.
        deliveries = await Delivery.filter(id__in=ids).order_by("id")
        messages = {
            m.id: m for m in await Message.filter(id__in={d.message_id for d in deliveries})
        }
        categories = {
            c.key: c for c in await Category.filter(key__in={m.category for m in messages.values()})
        }
        ready, settled = await recheck(self.tiers, deliveries, messages, categories, now)
        outcomes: dict[uuid.UUID, Outcome] = {}
        prepared = await prepare(ready, messages)
        for item in prepared:
            if item.problem is not None:
                outcomes[item.delivery.id] = problem_outcome(item.problem)
        outcomes.update(await self._send([p for p in prepared if p.problem is None]))
        changed = await self._record(ready, outcomes, messages, categories, now)
        await self._announce([*settled, *changed])
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
        ready, settled = await recheck(self.tiers, rows, messages, categories, now, digest_due=True)
        groups: dict[tuple[uuid.UUID, str], list[Prepared]] = defaultdict(list)
        outcomes: dict[uuid.UUID, Outcome] = {}
        for item in await prepare(ready, messages):
            if item.problem is not None:
                outcomes[item.delivery.id] = problem_outcome(item.problem)
            else:
                groups[(item.delivery.customer_id, item.delivery.channel)].append(item)
        combined = [_combine_digest(items) for items in groups.values()]
        sent = await self._send(combined)
        for lead, items in zip(combined, groups.values(), strict=True):
            for item in items:
                outcomes[item.delivery.id] = sent[lead.delivery.id]
        changed = await self._record(ready, outcomes, messages, categories, now)
        await self._announce([*settled, *changed])
        return len(rows)

    async def _announce(self, rows: Sequence[Delivery]) -> None:
        """Tell the live bus what this round changed; the changes are committed already. A
        failure here must not fail the round: subscribers catch up from the database."""
        if self.on_change is None or not rows:
            return
        try:
            await self.on_change(rows)
        except Exception:
            logger.exception("announcing delivery changes failed")

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
                results = await send_all(provider, [m for item in pending for m in item.outbound])
                retry: list[Prepared] = []
                position = 0
                for item in pending:
                    item_results = results[position : position + len(item.outbound)]
                    position += len(item.outbound)
                    outcome = combine(provider.name, item, item_results, channel)
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
            row.updated_at = now
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
                        "updated_at",
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
