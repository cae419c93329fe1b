"""The daily caps hold over time, through the real send decision, the worker's re-check and
a database: over any sequence of sends and clock moves (quiet hours starting and ending,
digests released, days passing in the customer's timezone), no customer receives more
marketing messages in a local day than its caps allow, overall and per category.

The clock is the test's: each send is decided at its `now` and its rows are dated then, and
the worker runs at each `now`, as it would had that much time passed."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise import connections
from tortoise.transactions import in_transaction

from tests.conftest import TABLES
from tidings.core.delivery.bulk import RulesJson, write_decided
from tidings.core.delivery.deciding import decide_deliveries
from tidings.core.delivery.recheck import lock_customers, recheck
from tidings.core.delivery.registry import ProviderRegistry
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.delivery.worker import DeliveryWorker
from tidings.core.enums import CategoryKind, DeliveryStatus, Frequency, GrantStatus, Tier
from tidings.core.models import Category, Customer, PermissionState, Preference
from tidings.core.models.messages import Delivery, Message
from tidings.core.policy import TierPolicy, held_for_digest
from tidings.plugins.interface import OutboundMessage, SendResult

DAILY_CAP, CATEGORY_CAP = 3, 2
CATEGORIES = ("promos", "news")
START = datetime(2030, 3, 9, 12, 0, tzinfo=UTC)  # New York springs forward on 10 March


class Recorder:
    """An email provider that accepts everything and counts what it was handed."""

    name = "recorder"
    channel = "email"
    max_batch = 100

    def __init__(self) -> None:
        self.sent = 0

    async def start(self) -> None:
        pass

    async def send(self, batch: Sequence[OutboundMessage]) -> Sequence[SendResult]:
        self.sent += len(batch)
        return [SendResult(ok=True, provider_id=m.delivery_id) for m in batch]

    async def aclose(self) -> None:
        pass


actions = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.sampled_from(CATEGORIES)),
        st.tuples(st.just("wait"), st.integers(10, 60 * 14)),  # minutes
    ),
    min_size=1,
    max_size=18,
)


async def empty() -> None:
    conn = connections.get("default")
    for table in TABLES:
        await conn.execute_query(f'DELETE FROM "{table}"')


async def customer(zone: str, frequency: Frequency, quiet: tuple[str, str] | None) -> Customer:
    person = await Customer.create(
        external_id=f"c-{uuid.uuid4()}", email="c@example.com", timezone=zone, tier=Tier.POTENTIAL
    )
    for key in CATEGORIES:
        await Category.create(
            key=key, name=key, kind=CategoryKind.MARKETING, default_channels=["email"],
            respect_quiet_hours=True,
        )  # fmt: skip
        await PermissionState.create(
            customer=person, channel="email", category=key, status=GrantStatus.GRANTED,
            source="test", granted_at=START - timedelta(days=1), entry_id=uuid.uuid4(),
        )  # fmt: skip
        await Preference.create(
            customer=person, category=key, channels=["email"], frequency=frequency,
            quiet_start=quiet[0] if quiet else None, quiet_end=quiet[1] if quiet else None,
        )  # fmt: skip
    return person


async def send(person: Customer, key: str, tiers: TierPolicies, now: datetime) -> None:
    message = await Message.create(
        category=key, status="EXPANDED", idempotency_scope="test", idempotency_key=str(uuid.uuid4()),
        request_hash="-", audience={}, title="Offer", body="Today only", created_by="test",
    )  # fmt: skip
    category = await Category.get(key=key)
    decided, tiers_now = await decide_deliveries(message, category, [person.id], tiers, now)
    await write_decided(message.id, decided, RulesJson(), tiers_now)
    await Delivery.filter(message_id=message.id).update(created_at=now)  # made at `now`


async def work(worker: DeliveryWorker, now: datetime) -> None:
    while await worker.run_once(now=now):
        pass


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zone=st.sampled_from(["Asia/Shanghai", "America/New_York", "UTC"]),
    frequency=st.sampled_from([Frequency.REALTIME, Frequency.DAILY_DIGEST]),
    quiet=st.none() | st.sampled_from([("22:00", "08:00"), ("20:30", "09:15"), ("01:00", "06:00")]),
    steps=actions,
)
async def test_no_local_day_holds_more_than_the_caps(db, zone, frequency, quiet, steps):
    await empty()
    policy = TierPolicy(Frequency.REALTIME, daily_cap=DAILY_CAP, category_daily_cap=CATEGORY_CAP)
    tiers = TierPolicies({tier: policy for tier in Tier})
    recorder = Recorder()
    worker = DeliveryWorker(ProviderRegistry([recorder]), tiers)
    person = await customer(zone, frequency, quiet)
    local = ZoneInfo(zone)
    now = START
    seen: set[uuid.UUID] = set()
    per_day: Counter[date] = Counter()
    per_category: Counter[tuple[date, str]] = Counter()
    for action, value in [*steps, ("wait", 60 * 48)]:  # and then let everything go out
        if action == "send":
            await send(person, value, tiers, now)
        else:
            now += timedelta(minutes=value)
        before = recorder.sent
        await work(worker, now)
        # What left in this round: each row on its own, the digest's rows as one message.
        fresh = [
            row
            for row in await Delivery.filter(status=DeliveryStatus.SENT).prefetch_related("message")
            if row.id not in seen
        ]
        seen.update(row.id for row in fresh)
        digest = {row.message.category for row in fresh if held_for_digest(row.rules)}
        alone = [row.message.category for row in fresh if not held_for_digest(row.rules)]
        assert recorder.sent - before == len(alone) + bool(digest)
        day = now.astimezone(local).date()
        per_day[day] += len(alone) + bool(digest)
        for key in [*alone, *digest]:
            per_category[(day, key)] += 1
        assert per_day[day] <= DAILY_CAP, (day, per_day)
        assert all(count <= CATEGORY_CAP for count in per_category.values()), per_category


async def test_ten_held_overnight_meet_a_cap_of_three_as_ten_sends_would(db):
    """The example behind the property: quiet hours end and the held rows are decided one
    after another, each counting for the next; the day's counts include what was released."""
    policy = TierPolicy(Frequency.REALTIME, daily_cap=None, category_daily_cap=3)
    tiers = TierPolicies({tier: policy for tier in Tier})
    recorder = Recorder()
    worker = DeliveryWorker(ProviderRegistry([recorder]), tiers)
    person = await customer("Asia/Shanghai", Frequency.REALTIME, ("22:00", "08:00"))
    evening = datetime(2030, 3, 9, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    for _ in range(10):
        await send(person, "promos", tiers, evening)
    assert await Delivery.filter(status=DeliveryStatus.DEFERRED).count() == 10
    morning = datetime(2030, 3, 10, 0, 0, 1, tzinfo=UTC)  # 08:00:01 in Shanghai
    await work(worker, morning)
    assert recorder.sent == 3
    suppressed = await Delivery.filter(status=DeliveryStatus.SUPPRESSED)
    assert [row.reason for row in suppressed] == ["FREQUENCY_CAP"] * 7
    assert "category cap reached: 3 of 3 today" in suppressed[0].rules[-1]["detail"]
    # A send later that morning meets the three already gone.
    await send(person, "promos", tiers, morning + timedelta(hours=2))
    await work(worker, morning + timedelta(hours=2))
    assert recorder.sent == 3


async def test_two_workers_releasing_one_customers_rows_at_once_share_its_cap(db):
    """Each takes half of the ten rows held overnight, at the same moment: together they
    release no more than the cap, since the second counts what the first released."""
    policy = TierPolicy(Frequency.REALTIME, daily_cap=None, category_daily_cap=3)
    tiers = TierPolicies({tier: policy for tier in Tier})
    person = await customer("Asia/Shanghai", Frequency.REALTIME, ("22:00", "08:00"))
    evening = datetime(2030, 3, 9, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    for _ in range(10):
        await send(person, "promos", tiers, evening)
    held = await Delivery.filter(status=DeliveryStatus.DEFERRED).order_by("id")
    messages = {m.id: m for m in await Message.all()}
    categories = {c.key: c for c in await Category.all()}
    morning = datetime(2030, 3, 10, 0, 0, 1, tzinfo=UTC)
    results = await asyncio.gather(
        recheck(tiers, held[0::2], messages, categories, morning),
        recheck(tiers, held[1::2], messages, categories, morning),
    )
    assert sum(len(ready) for ready, _ in results) == 3
    assert sum(len(settled) for _, settled in results) == 7
    assert await Delivery.filter(status=DeliveryStatus.QUEUED).count() == 3


async def test_a_release_waits_for_another_worker_releasing_the_same_customer(db):
    """What makes the sharing hold across processes: while another worker's release of this
    customer is open (its transaction holding the customer), a release waits, then counts
    what that one wrote."""
    policy = TierPolicy(Frequency.REALTIME, daily_cap=None, category_daily_cap=3)
    tiers = TierPolicies({tier: policy for tier in Tier})
    person = await customer("Asia/Shanghai", Frequency.REALTIME, ("22:00", "08:00"))
    evening = datetime(2030, 3, 9, 15, 0, tzinfo=UTC)
    for _ in range(4):
        await send(person, "promos", tiers, evening)
    first, *rest = await Delivery.filter(status=DeliveryStatus.DEFERRED).order_by("id")
    messages = {m.id: m for m in await Message.all()}
    categories = {c.key: c for c in await Category.all()}
    morning = datetime(2030, 3, 10, 0, 0, 1, tzinfo=UTC)
    holding, release = asyncio.Event(), asyncio.Event()

    async def other_worker() -> None:
        async with in_transaction():
            await lock_customers([person.id])
            holding.set()
            await release.wait()
            # It released three (its writes commit with the transaction).
            await Delivery.filter(id__in=[r.id for r in rest]).update(
                status=DeliveryStatus.QUEUED, reason=None
            )

    other = asyncio.create_task(other_worker())
    await asyncio.wait_for(holding.wait(), 10)
    waiting = asyncio.create_task(recheck(tiers, [first], messages, categories, morning))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    release.set()
    await other
    ready, settled = await waiting
    assert (ready, [row.reason for row in settled]) == ([], ["FREQUENCY_CAP"])
