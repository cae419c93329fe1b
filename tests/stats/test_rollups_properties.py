"""The rollups answer exactly what a scan of the deliveries answers, on random histories:
deliveries written through the ORM and through the bulk writer (COPY on PostgreSQL), late
feedback, engagement, conversions, unsubscribes, retries, moves in time, deletions, and
folds at random points (the answer may come from the rollups, the deltas or both)."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise import connections

from tests.conftest import TABLES
from tidings.core.delivery.bulk import RulesJson, write_decided
from tidings.core.enums import DeliveryReason, DeliveryStatus, StatsDimension, Tier
from tidings.core.models import Customer, Delivery, Message
from tidings.core.policy import Decision
from tidings.core.stats.fold import fold_all, fold_deltas
from tidings.core.stats.query import delivery_stats
from tidings.core.stats.rebuild import rebuild_stats
from tidings.core.stats.rows import DeliveryStatsQuery, StatsFilter
from tidings.core.stats.scan import scan_delivery_stats

START = datetime(2026, 3, 27, 0, 0, tzinfo=UTC)  # Europe's clocks change on the 29th
CATEGORIES = ("offers", "orders", "news")
CHANNELS = ("email", "sms", "push")
ZONES = ("UTC", "Asia/Shanghai", "Asia/Kolkata", "America/New_York", "Europe/Berlin")
STATUSES = list(DeliveryStatus)
REASONS = [None, DeliveryReason.QUIET_HOURS, DeliveryReason.NO_PERMISSION, DeliveryReason.REJECTED]


def receipts(channel: str) -> bool:
    return channel == "sms"


index = st.integers(0, 10_000)
actions = st.lists(
    st.one_of(
        st.tuples(
            st.just("create"),
            st.integers(1, 4),  # how many
            st.integers(0, 3),  # which message
            st.sampled_from(CHANNELS),
            st.sampled_from(
                [DeliveryStatus.QUEUED, DeliveryStatus.SUPPRESSED, DeliveryStatus.DEFERRED]
            ),
            st.integers(0, 6 * 24 * 4),  # quarter hours after START
            st.booleans(),  # through the bulk writer
        ),
        st.tuples(st.just("status"), index, st.sampled_from(STATUSES), st.sampled_from(REASONS)),
        st.tuples(st.just("open"), index, st.booleans()),
        st.tuples(st.just("convert"), index, st.decimals(0, 500, places=2)),
        st.tuples(st.just("unsubscribe"), index),
        st.tuples(st.just("retry"), st.sampled_from(CHANNELS)),
        st.tuples(st.just("move"), index, st.integers(-3000, 3000)),  # minutes
        st.tuples(st.just("delete"), index),
        st.tuples(st.just("fold"), st.integers(1, 5)),
    ),
    min_size=1,
    max_size=30,
)
queries = st.tuples(
    st.lists(st.sampled_from(list(StatsDimension)), unique=True, max_size=4),
    st.sampled_from(ZONES),
    st.integers(-96, 96 * 3),  # start, in quarter hours after START
    st.integers(1, 96 * 5),  # length, in quarter hours
    st.none() | st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=2),
    st.none() | st.lists(st.sampled_from(list(Tier)), min_size=1, max_size=2),
    st.booleans(),  # filter on the first message
)


async def empty() -> None:
    conn = connections.get("default")
    for table in TABLES:
        await conn.execute_query(f'DELETE FROM "{table}"')


async def world() -> tuple[list[Customer], list[Message]]:
    people = [await Customer.create(external_id=f"c{i}", tier=tier) for i, tier in enumerate(Tier)]
    messages = [
        await Message.create(
            category=CATEGORIES[i % 3],
            status="EXPANDED",
            idempotency_scope="t",
            idempotency_key=str(uuid.uuid4()),
            request_hash="-",
            audience={},
            created_by="t",
        )
        for i in range(4)
    ]
    return people, messages


async def apply(action: tuple, people: list[Customer], messages: list[Message]) -> None:
    kind = action[0]
    rows = await Delivery.all().order_by("id").values_list("id", flat=True)
    if kind == "create":
        _, count, which, channel, status, quarters, bulk = action
        message = messages[which]
        at = START + timedelta(minutes=15 * quarters, seconds=quarters % 900)
        reason = DeliveryReason.QUIET_HOURS.value if status is DeliveryStatus.DEFERRED else None
        chosen = [people[(quarters + i) % len(people)] for i in range(count)]
        if bulk:
            decided = [
                (p.id, Decision(channel, status, reason and DeliveryReason(reason), None, ()))
                for p in chosen
            ]
            await write_decided(message.id, decided, RulesJson(), {p.id: p.tier for p in chosen})
        else:
            await Delivery.bulk_create([
                Delivery(message_id=message.id, customer_id=p.id, channel=channel, status=status,
                         reason=reason, tier=p.tier.value)
                for p in chosen
            ])  # fmt: skip
        await Delivery.filter(
            message_id=message.id, created_at__gt=START + timedelta(days=30)
        ).update(created_at=at)
    elif kind == "fold":
        await fold_deltas(limit=action[1])
    elif kind == "retry":  # what retryDeliveries does
        await Delivery.filter(status=DeliveryStatus.FAILED, channel=action[1]).update(
            status=DeliveryStatus.QUEUED, reason=None
        )
    elif rows:
        target = Delivery.filter(id=rows[action[1] % len(rows)])
        now = START + timedelta(days=2)
        if kind == "status":
            await target.update(status=action[2], reason=action[3] and action[3].value)
        elif kind == "open":
            await target.update(**{"clicked_at" if action[2] else "opened_at": now})
        elif kind == "convert":
            await target.update(converted_at=now, revenue=action[2])
        elif kind == "unsubscribe":
            await target.update(unsubscribed_at=now)
        elif kind == "move":
            row = await target.first()
            await target.update(created_at=row.created_at + timedelta(minutes=action[2]))
        elif kind == "delete":
            await target.delete()


def stats_query(spec: tuple, messages: list[Message]) -> DeliveryStatsQuery:
    dims, zone, start, length, channels, tiers, one_message = spec
    return DeliveryStatsQuery(
        start=START + timedelta(minutes=15 * start),
        end=START + timedelta(minutes=15 * (start + length)),
        group_by=tuple(dims),
        timezone=zone,
        filter=StatsFilter(
            channels=channels and tuple(channels),
            tiers=tiers and tuple(tiers),
            message_ids=(messages[0].id,) if one_message else None,
        ),
    )


async def check(specs: list[tuple], messages: list[Message]) -> None:
    for spec in specs:
        query = stats_query(spec, messages)
        expected = await scan_delivery_stats(query, receipts)
        assert await delivery_stats(query, receipts) == expected, spec


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=actions, specs=st.lists(queries, min_size=1, max_size=3))
async def test_the_rollups_equal_a_scan(db, steps, specs):
    await empty()
    people, messages = await world()
    for action in steps:
        await apply(action, people, messages)
    await check(specs, messages)  # deltas and rollups, as they are
    await fold_all()
    await check(specs, messages)  # all folded
    assert not await connections.get("default").execute_query_dict("SELECT id FROM stats_deltas")
    await rebuild_stats(chunk=3)
    await check(specs, messages)  # rebuilt from the deliveries


async def test_revenue_is_kept_to_the_ten_thousandth(db):
    people, messages = await world()
    await Delivery.create(
        message_id=messages[0].id, customer_id=people[0].id, channel="email",
        status=DeliveryStatus.SENT, tier="ORDINARY",
    )  # fmt: skip
    await Delivery.all().update(created_at=datetime(2026, 6, 1, tzinfo=UTC))
    for value in ("0.0001", "12345678.9999", "0.3333"):
        await Delivery.filter(message_id=messages[0].id).update(
            converted_at=START, revenue=Decimal(value)
        )
    query = DeliveryStatsQuery(
        start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2027, 1, 1, tzinfo=UTC), group_by=()
    )
    [row] = await delivery_stats(query, receipts)
    assert row.revenue == Decimal("0.3333") and row.converted == 1
