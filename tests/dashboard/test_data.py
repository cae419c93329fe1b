"""What the dashboard shows, from a history made through the real send path: the tables
behind each chart, the filters, the CSV downloads and the live table's JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

from tests.dashboard.support import deliver, make_world, member, sign_in
from tests.delivery.support import send
from tidings.api.dashboard.filters import parse_filters
from tidings.api.dashboard.tables import Table
from tidings.core.enums import Role, Tier

CHARTS = re.compile(
    r'<script type="application/json" id="dashboard-data">(.*?)</script>', re.DOTALL
)


def charts(html: str) -> dict:
    found = CHARTS.search(html)
    assert found is not None
    return json.loads(found.group(1))


def read_csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


async def signed_in(api, role: Role = Role.MARKETER) -> None:
    staff = await member(api, role)
    assert (await sign_in(api.client, staff.email)).status_code == 303


async def test_the_funnel_and_the_days_count_the_sends(api):
    await make_world(api)
    await signed_in(api)
    page = await api.client.get("/dashboard?days=7")
    data = charts(page.text)
    funnel = {s["name"]: s["data"] for s in data["funnel"]["series"]}
    # promos: 2 sends to 3 customers: the HIGH_VALUE one gets them, the ORDINARY granted one
    # gets them in a digest (deferred), the third never granted (suppressed); orders: 1 send
    # to 3. The first customer read everything: 2 promos and 1 order opened.
    assert funnel == {"orders": [3, 3, 3, 1, 0, 0], "promos": [6, 2, 2, 2, 0, 0]}
    assert data["funnel"]["stages"][0] == "Attempted"
    today = datetime.now(UTC).date()
    assert data["daily"]["days"][-1] == today.isoformat() and len(data["daily"]["days"]) == 7
    rates = {s["name"]: s["data"] for s in data["daily"]["rates"]}
    assert rates["Delivery rate"][-1] == 1.0
    assert rates["Open rate"][-1] == 3 / 5
    assert rates["Open rate"][0] is None  # no deliveries that day: no rate, not 0
    # The HTML tables say the same, rates as percentages.
    assert '<th scope="row">promos</th><td>6</td><td>2</td>' in page.text
    assert "<td>60.0%</td>" in page.text


async def test_a_filter_changes_the_data(api):
    await make_world(api)
    await signed_in(api)
    by_category = charts((await api.client.get("/dashboard?category=orders")).text)
    assert [s["name"] for s in by_category["funnel"]["series"]] == ["orders"]
    by_tier = charts((await api.client.get("/dashboard?tier=HIGH_VALUE")).text)
    funnel = {s["name"]: s["data"] for s in by_tier["funnel"]["series"]}
    assert funnel == {"orders": [1, 1, 1, 1, 0, 0], "promos": [2, 2, 2, 2, 0, 0]}
    by_channel = charts((await api.client.get("/dashboard?channel=email")).text)
    assert by_channel["funnel"]["series"] == []
    past = charts((await api.client.get("/dashboard?from=2020-01-01&to=2020-01-31")).text)
    assert past["funnel"]["series"] == [] and len(past["daily"]["days"]) == 31


async def test_unknown_filters_are_reset_and_said_so(api):
    await make_world(api)
    await signed_in(api)
    page = await api.client.get("/dashboard?category=nope&tier=GOLD&days=12&channel=fax")
    assert page.status_code == 200
    assert "Some filters were not understood and were reset: period, category, channel, tier." in (
        page.text
    )
    assert len(charts(page.text)["daily"]["days"]) == 30


def test_parse_filters_periods():
    today = date(2026, 11, 30)
    known = (["promos"], ["email"])
    cases = {
        (): (date(2026, 11, 1), today, 30, ()),
        (("days", "7"),): (date(2026, 11, 24), today, 7, ()),
        (("days", "90"), ("from", "2026-01-01"), ("to", "2026-01-02")): (
            date(2026, 9, 2),
            today,
            90,
            (),
        ),
        (("days", ""), ("from", "2026-01-01"), ("to", "2026-01-02")): (
            date(2026, 1, 1),
            date(2026, 1, 2),
            None,
            (),
        ),
        (("from", "2026-01-05"), ("to", "2026-01-01")): (date(2026, 11, 1), today, 30, ("period",)),
        (("from", "2020-01-01"), ("to", "2026-01-01")): (date(2026, 11, 1), today, 30, ("period",)),
        (("from", "yesterday"), ("to", "2026-01-01")): (date(2026, 11, 1), today, 30, ("period",)),
        (("days", "1000"),): (date(2026, 11, 1), today, 30, ("period",)),
    }
    for params, (first, last, preset, problems) in cases.items():
        filters = parse_filters(dict(params), *known, today)
        assert (filters.first_day, filters.last_day, filters.preset, filters.problems) == (
            first,
            last,
            preset,
            problems,
        ), params
    filters = parse_filters({"tier": "POTENTIAL", "category": "promos"}, *known, today)
    assert filters.tier is Tier.POTENTIAL and filters.stats_filter().categories == ("promos",)
    assert filters.end - filters.start == timedelta(days=30)
    assert filters.query("en") == "lang=en&days=30&category=promos&tier=POTENTIAL"


async def test_consent_heat_map(api):
    await make_world(api)
    await signed_in(api, Role.AUDITOR)
    data = charts((await api.client.get("/dashboard")).text)
    cells = {(c[0], c[1]): c[2] for c in data["consent"]["cells"]}
    # promos on in_app: two of three customers granted.
    assert cells[("in_app", "promos")] == 2 / 3
    assert "promos" in data["consent"]["categories"] and "in_app" in data["consent"]["channels"]
    response = await api.client.get("/dashboard/consent.csv")
    rows = {(r["category"], r["channel"]): r for r in read_csv(response.text)}
    assert rows[("promos", "in_app")]["granted"] == "2"
    assert rows[("promos", "in_app")]["opt_in_rate"] == "0.6667"


async def test_csv_downloads(api):
    await make_world(api)
    await signed_in(api)
    response = await api.client.get("/dashboard/funnel.csv?days=7&category=promos")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    today = datetime.now(UTC).date()
    first = today - timedelta(days=6)
    assert response.headers["content-disposition"] == (
        f'attachment; filename="tidings-funnel-{first}-{today}.csv"'
    )
    (row,) = read_csv(response.text)
    assert row["category"] == "promos" and row["attempted"] == "6" and row["opened"] == "2"
    assert row["delivery_rate"] == "1.0000" and row["click_rate"] == "0.0000"
    daily = read_csv((await api.client.get("/dashboard/daily.csv?days=7")).text)
    assert len(daily) == 7 and daily[-1]["sent"] == "5" and daily[0]["open_rate"] == ""
    messages = read_csv((await api.client.get("/dashboard/messages.csv")).text)
    assert len(messages) == 3 and {m["category"] for m in messages} == {"promos", "orders"}
    assert (await api.client.get("/dashboard/nothing.csv")).status_code == 404


def test_csv_cells_cannot_become_formulas():
    table = Table(
        "t",
        ("a", "b", "c"),
        [
            {"a": '=HYPERLINK("http://x")', "b": "+1", "c": "-2"},
            {"a": "@SUM(A1)", "b": "\tx", "c": 'plain, with "quotes"'},
            {"a": 5, "b": 0.5, "c": None},
        ],
    )
    rows = list(csv.reader(io.StringIO(table.csv()[1:])))
    assert rows == [
        ["a", "b", "c"],
        ['\'=HYPERLINK("http://x")', "'+1", "'-2"],
        ["'@SUM(A1)", "'\tx", 'plain, with "quotes"'],
        ["5", "0.5000", ""],
    ]


async def test_the_live_table_follows_new_sends(api):
    world = await make_world(api, sends=1)
    await signed_in(api)
    before = (await api.client.get("/dashboard/live.json")).json()
    assert before["columns"][:3] == ["message", "category", "created_at"]
    assert len(before["rows"]) == 2
    message = await send(api, world.admin_token, "orders", {"customerIds": world.customers})
    queued = (await api.client.get("/dashboard/live.json")).json()
    assert len(queued["rows"]) == 3
    newest = queued["rows"][0]
    assert (newest["attempted"], newest["sent"], newest["delivered"]) == (3, 0, 0)
    await deliver(api)
    after = (await api.client.get("/dashboard/live.json")).json()
    assert (after["rows"][0]["sent"], after["rows"][0]["delivered"]) == (3, 3)
    assert message["id"]  # sent through GraphQL
    only = (await api.client.get("/dashboard/live.json?category=promos")).json()
    assert [r["category"] for r in only["rows"]] == ["promos"]
