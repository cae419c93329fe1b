"""TIDINGS_STATS_MIN_GROUP: small groups fold into "other", a small "other" is withheld; through
the fold functions (every case) and through the API with the setting."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from tests.conftest import Api, data, make_settings
from tests.core.support import create_category, create_customer
from tests.stats.test_api_delivery import stats
from tidings.api.app import create_app
from tidings.core.enums import Role
from tidings.core.stats.privacy import fold_consent_rows, fold_delivery_rows
from tidings.core.stats.rows import ConsentStatsRow, DeliveryStatsRow

DAY1, DAY2 = date(2026, 3, 1), date(2026, 3, 2)


def row(category: str, attempted: int, day: date | None = None, **counts: Any) -> DeliveryStatsRow:
    return DeliveryStatsRow(category=category, day=day, attempted=attempted, **counts)


def test_a_minimum_of_one_folds_nothing():
    rows = [row("a", 1), row("b", 1)]
    assert fold_delivery_rows(rows, 1) == rows


def test_small_groups_fold_into_one_other_row_with_their_sums():
    rows = [
        row("big", 10, sent=9),
        row("s1", 2, sent=2, delivered=1, receipts_reported=False),
        row("s2", 3, sent=3, delivered=3),
    ]
    folded = fold_delivery_rows(rows, 5)
    assert [r.category for r in folded] == ["big", None]
    other = folded[1]
    assert other.other is True
    assert (other.attempted, other.sent, other.delivered) == (5, 5, 4)
    assert other.receipts_reported is False  # one gathered row had no receipts
    assert other.delivery_rate == 4 / 5


def test_an_other_row_below_the_minimum_is_withheld():
    folded = fold_delivery_rows([row("big", 10), row("tiny", 1), row("tiny2", 1)], 5)
    assert [(r.category, r.other) for r in folded] == [("big", False)]


def test_with_day_grouped_there_is_one_other_row_per_day():
    rows = [
        row("big", 9, DAY1),
        row("s1", 2, DAY1),
        row("s2", 2, DAY1),
        row("s1", 3, DAY2),
        row("s2", 1, DAY2),  # day 2's other: 4, kept
        row("big", 9, DAY2),
    ]
    folded = fold_delivery_rows(rows, 4)
    others = {r.day: r.attempted for r in folded if r.other}
    assert others == {DAY1: 4, DAY2: 4}
    assert all(r.category is None for r in folded if r.other)
    assert sum(r.attempted for r in folded) == sum(r.attempted for r in rows)


def test_consent_rows_fold_on_customers_and_keep_withdrawals():
    rows = [
        ConsentStatsRow(category="a", customers=10, granted=5),
        ConsentStatsRow(category="b", customers=2, granted=1, withdrawals={"sms_stop": 1}),
        ConsentStatsRow(category="c", customers=3, granted=2, withdrawals={"sms_stop": 1}),
    ]
    folded = fold_consent_rows(rows, 5)
    assert [(r.category, r.other) for r in folded] == [("a", False), (None, True)]
    other = folded[1]
    assert (other.customers, other.granted, other.withdrawals) == (5, 3, {"sms_stop": 2})
    [whole] = fold_consent_rows(rows, 11)  # all below; their sum (15) is not
    assert (whole.other, whole.customers) == (True, 15)
    assert fold_consent_rows(rows, 16) == []  # all below, and so is their sum: withheld


@pytest.fixture
async def strict_api(db: str):
    """The app with TIDINGS_STATS_MIN_GROUP=2."""
    app = create_app(make_settings(db, TIDINGS_STATS_MIN_GROUP="2"), manage_database=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield Api(client=c, app=app)
    app.state.runtime.templates.close()


SEND = "mutation($i: SendInput!) { send(input: $i) { errors { code } } }"


async def test_the_setting_folds_and_withholds_through_the_api(strict_api):
    api = strict_api
    _, token = await api.staff(Role.ADMIN)
    customers = [(await create_customer(api, token))["id"] for _ in range(2)]
    for key in ("big", "one", "two"):
        await create_category(api, token, key, kind="TRANSACTIONAL", defaultChannels=["in_app"])
    sends = [
        ("big", customers[0]),
        ("big", customers[1]),
        ("one", customers[0]),
        ("two", customers[1]),
    ]
    for n, (category, customer) in enumerate(sends):
        variables = {
            "i": {
                "idempotencyKey": f"fold-{n}",
                "category": category,
                "to": {"customerId": customer},
                "content": {"title": "t", "body": "b"},
            }
        }
        assert data(await api.gql(SEND, variables, token))["send"]["errors"] == []
    rows = await stats(api, token, ["CATEGORY"])
    assert [(r["category"], r["other"], r["attempted"]) for r in rows] == [
        ("big", False, 2),
        (None, True, 2),  # "one" and "two", one delivery each
    ]
    rows = await stats(api, token, ["CATEGORY"], f={"categories": ["big", "one"]})
    assert [(r["category"], r["other"]) for r in rows] == [("big", False)]  # one alone: withheld
    consent = "{ consentStats(groupBy: [CATEGORY]) { category other customers } }"
    await create_category(api, token, "promos", defaultChannels=["email"])
    assert data(await api.gql(consent, None, token))["consentStats"] == [
        {"category": "promos", "other": False, "customers": 2}
    ]
    await create_category(api, token, "solo", defaultChannels=["email"])
    third = (await create_customer(api, token))["id"]
    assert third
    found = data(await api.gql(consent, None, token))["consentStats"]
    assert {(r["category"], r["customers"]) for r in found} == {("promos", 3), ("solo", 3)}
