"""One pipeline for every claimed delivery: load what the rows refer to, re-check consent,
prepare content and addresses, send, record the outcomes, announce the changes.

Due deliveries and released digests walk the same stages; a digest differs in one step only,
where a customer's held rows on one channel become one combined message (`digest=True`).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from tidings.core.address_hash import AddressHasher
from tidings.core.delivery.breaker import Breakers
from tidings.core.delivery.bulk import delivery_row, update_rows
from tidings.core.delivery.digest_message import combine_digest
from tidings.core.delivery.engagement_links import EngagementLinks
from tidings.core.delivery.message_links import (
    BatchLinks,
)
from tidings.core.delivery.outbound import Prepared, prepare
from tidings.core.delivery.outcomes import (
    Outcome,
    breaker_counts,
    combine,
    problem_outcome,
    send_all,
)
from tidings.core.delivery.recheck import recheck
from tidings.core.delivery.recipients import load_recipients
from tidings.core.delivery.registry import ProviderRegistry
from tidings.core.delivery.retry import RetryPolicy
from tidings.core.delivery.sandbox import TemplateSandbox
from tidings.core.delivery.sending import category_rule
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.enums import DeliveryReason, DeliveryStatus
from tidings.core.links import LinkSigner
from tidings.core.models import Category, Device
from tidings.core.models.messages import Delivery, Message
from tidings.core.policy import decide
from tidings.core.tracking import TrackingSigner

logger = logging.getLogger("tidings.delivery")

# Failures another channel may still get through: the category's fallback is tried.
FALLBACK_REASONS = frozenset(
    {
        DeliveryReason.NO_ADDRESS,
        DeliveryReason.NO_PROVIDER,
        DeliveryReason.INVALID_ADDRESS,
        DeliveryReason.REJECTED,
    }
)
RECORDED = (
    "status", "reason", "not_before", "locked_until", "provider", "provider_id",
    "last_error", "rules", "attempts", "updated_at",
)  # fmt: skip

OnChange = Callable[[Sequence[Delivery]], Awaitable[None]]


class DeliveryPipeline:
    def __init__(
        self,
        registry: ProviderRegistry,
        tiers: TierPolicies,
        retry: RetryPolicy,
        on_change: OnChange | None = None,
        breakers: Breakers | None = None,
        templates: TemplateSandbox | None = None,
        *,
        links: LinkSigner | None = None,
        unsubscribe_mailto: str | None = None,
        tracking: TrackingSigner | None = None,
        hasher: AddressHasher | None = None,
    ) -> None:
        self.registry = registry
        # Engagement tracking on email (engagement_links.py); None: TIDINGS_TRACKING=off.
        self.tracking = EngagementLinks(tracking) if tracking is not None else None
        # Finds suppressed addresses when rows are checked again; None: none are.
        self.hasher = hasher
        # Preference and unsubscribe links in what providers are handed (message_links.py).
        self.links = links
        self.unsubscribe_mailto = unsubscribe_mailto
        self.tiers = tiers
        self.retry = retry
        self.breakers = breakers or Breakers()
        self.templates = templates or TemplateSandbox()  # renders off the event loop
        self.on_change = on_change

    async def run(self, rows: Sequence[Delivery], now: datetime, *, digest: bool = False) -> None:
        """Take claimed rows through every stage. `digest`: they are held digest rows whose
        period ended, sent as one message per customer × channel."""
        if not rows:
            return
        messages = {m.id: m for m in await Message.filter(id__in={d.message_id for d in rows})}
        categories = {
            c.key: c for c in await Category.filter(key__in={m.category for m in messages.values()})
        }
        ready, settled = await recheck(
            self.tiers, rows, messages, categories, now, digest_due=digest, hasher=self.hasher
        )
        outcomes: dict[uuid.UUID, Outcome] = {}
        sendable: list[Prepared] = []
        batch_links = (
            BatchLinks(self.links, self.unsubscribe_mailto) if self.links is not None else None
        )
        kinds = {key: category.kind for key, category in categories.items()}
        tracked = frozenset(key for key, c in categories.items() if c.track_engagement)
        for item in await prepare(
            ready,
            messages,
            self.templates,
            links=batch_links,
            kinds=kinds,
            tracking=self.tracking,
            tracked=tracked,
        ):
            if item.problem is not None:
                outcomes[item.delivery.id] = problem_outcome(item.problem)
            else:
                sendable.append(item)
        if digest:
            outcomes.update(await self._send_digests(sendable, now, batch_links))
        else:
            outcomes.update(await self._send(sendable, now))
        changed = await self._record(ready, outcomes, messages, categories, now)
        await self._announce([*settled, *changed])

    async def _send_digests(
        self, items: Sequence[Prepared], now: datetime, links: BatchLinks | None
    ) -> dict[uuid.UUID, Outcome]:
        """One combined message per customer × channel; each held row gets its outcome."""
        groups: dict[tuple[uuid.UUID, str], list[Prepared]] = defaultdict(list)
        for item in items:
            groups[(item.delivery.customer_id, item.delivery.channel)].append(item)
        combined = [combine_digest(group, links) for group in groups.values()]
        sent = await self._send(combined, now)
        return {
            item.delivery.id: sent[lead.delivery.id]
            for lead, group in zip(combined, groups.values(), strict=True)
            for item in group
        }

    async def _send(self, prepared: Sequence[Prepared], now: datetime) -> dict[uuid.UUID, Outcome]:
        """Hand each channel's messages to its providers, failing over on transient errors and
        past a provider whose breaker is open; what no provider can take now waits."""
        outcomes: dict[uuid.UUID, Outcome] = {}
        by_channel: dict[str, list[Prepared]] = defaultdict(list)
        for item in prepared:
            by_channel[item.delivery.channel].append(item)
        for channel, items in by_channel.items():
            providers = self.registry.for_channel(channel)
            if not providers:
                for item in items:
                    outcomes[item.delivery.id] = Outcome(
                        DeliveryStatus.FAILED, DeliveryReason.NO_PROVIDER
                    )
                continue
            pending = items
            for index, provider in enumerate(providers):
                last = index == len(providers) - 1
                breaker = self.breakers[provider.name]
                admitted = breaker.admit(len(pending))
                pending, waiting = pending[:admitted], pending[admitted:]
                outbound = [m for item in pending for m in item.outbound]
                results = await send_all(provider, outbound, self.registry.observer)
                if results:
                    breaker.record(*breaker_counts(results))
                retry: list[Prepared] = []
                position = 0
                for item in pending:
                    item_results = results[position : position + len(item.outbound)]
                    position += len(item.outbound)
                    outcome = combine(provider.name, item, item_results, channel)
                    if outcome.status is DeliveryStatus.QUEUED and not last:
                        retry.append(item)  # transient: the next provider may be up
                    elif outcome.unavailable:
                        waiting.append(item)
                    else:
                        outcomes[item.delivery.id] = outcome
                pending = [*retry, *waiting]
                if last:
                    for position, item in enumerate(waiting):
                        outcomes[item.delivery.id] = Outcome(
                            DeliveryStatus.QUEUED,
                            provider=provider.name,
                            error=f"provider {provider.name} unavailable: waiting for it",
                            hold_until=now + timedelta(seconds=breaker.wait(position)),
                        )
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
            if outcome.hold_until is not None:  # its providers are down: wait, unspent
                row.not_before = outcome.hold_until
                if row.reason is not DeliveryReason.DIGEST:  # digest claims spend none
                    row.status, row.reason = DeliveryStatus.QUEUED, None
                    row.attempts = max(0, row.attempts - 1)
            elif outcome.status is DeliveryStatus.QUEUED:  # transient everywhere
                retry_at = self.retry.next_try(
                    row.attempts, row.retry_from or row.created_at, now, outcome.retry_after
                )
                if retry_at is None:
                    row.status, row.reason = (
                        DeliveryStatus.FAILED,
                        DeliveryReason.RETRIES_EXHAUSTED,
                    )
                else:
                    row.status, row.reason = DeliveryStatus.QUEUED, None
                    row.not_before = retry_at
            else:
                row.status, row.reason = outcome.status, outcome.reason
            changed.append(row)
            if row.reason in FALLBACK_REASONS:
                category = categories.get(messages[row.message_id].category)
                fallback = await self._fallback(row, category, now)
                if fallback is not None:
                    fallbacks.append(fallback)
        async with in_transaction():
            if changed:
                await update_rows(changed, RECORDED)
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
        recipients = await load_recipients([row.customer_id], category.key, now, self.hasher)
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
        return delivery_row(row.message_id, row.customer_id, decision, row.tier)

    async def _announce(self, rows: Sequence[Delivery]) -> None:
        """Tell the live bus what this round changed; the changes are committed already. A
        failure here must not fail the round: subscribers catch up from the database."""
        if self.on_change is None or not rows:
            return
        try:
            await self.on_change(rows)
        except Exception:
            logger.exception("announcing delivery changes failed")
