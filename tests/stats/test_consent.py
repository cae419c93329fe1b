"""consentStats on a history built through the real consent paths: grants through the API,
withdrawals through the preference center, one click, an SMS STOP and a complaint, a
confirmation left pending, a grant expiring; and the ledger read as it stood at a past asOf."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import Api, data
from tests.core.support import create_category, create_customer, raw_id
from tests.sql_statements import statement_log
from tidings.core.enums import Role, StatsDimension
from tidings.core.ids import new_id
from tidings.core.models import Customer
from tidings.core.models.messages import Delivery
from tidings.core.services import sms_replies
from tidings.core.services.complaints import withdraw_for_complaint
from tidings.core.services.preference_center import PreferenceCenter
from tidings.core.stats.consent import consent_query, consent_stats

GRANT = """
mutation($i: GrantPermissionInput!) { grantPermission(input: $i) { grant { status } errors { code } } }
"""
WITHDRAW = """
mutation($i: WithdrawPermissionInput!) { withdrawPermission(input: $i) { grant { status } errors { code } } }
"""
CONSENT = """
query($g: [StatsDimension!]!, $asOf: DateTime, $since: DateTime) {
  consentStats(groupBy: $g, asOf: $asOf, since: $since) {
    category channel tier other customers reachable granted withdrawn expired pending
    neverAsked expiringSoon optInRate withdrawals { source count } } }
"""


async def grant(api: Api, token: str, customer: str, category: str, channel: str, **extra: Any):
    variables = {
        "i": {
            "customerId": customer,
            "channel": channel,
            "category": category,
            "source": "signup_form",
            **extra,
        }
    }
    payload = data(await api.gql(GRANT, variables, token))["grantPermission"]
    assert payload["errors"] == [], payload["errors"]
    return payload["grant"]["status"]


class History:
    """Four customers × (promos on email and sms, news on email): twelve pairs."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def build(self) -> None:
        api = self.api
        _, self.token = await api.staff(Role.ADMIN)
        token = self.token
        await create_category(api, token, "promos", defaultChannels=["email", "sms"])
        await create_category(api, token, "news", defaultChannels=["email"], confirmEmail=True)
        await create_category(api, token, "orders", kind="TRANSACTIONAL", defaultChannels=["email"])
        self.a = (
            await create_customer(
                api, token, email="a@example.com", phone="+14155550101", tier="HIGH_VALUE"
            )
        )["id"]
        self.b = (await create_customer(api, token, email="b@example.com"))["id"]
        self.c = (await create_customer(api, token, phone="+14155550103"))["id"]
        self.d = (await create_customer(api, token, email="d@example.com"))["id"]
        self.in_ten_days = datetime.now(UTC) + timedelta(days=10)
        assert await grant(api, token, self.a, "promos", "email") == "GRANTED"
        assert await grant(api, token, self.a, "promos", "sms") == "GRANTED"
        assert await grant(api, token, self.a, "news", "email") == "PENDING"
        assert (
            await grant(
                api, token, self.b, "promos", "email", expiresAt=self.in_ten_days.isoformat()
            )
            == "GRANTED"
        )
        assert await grant(api, token, self.b, "news", "email") == "PENDING"
        assert await grant(api, token, self.c, "promos", "email") == "GRANTED"  # no email
        assert await grant(api, token, self.c, "promos", "sms") == "GRANTED"
        assert await grant(api, token, self.d, "promos", "email") == "GRANTED"
        self.granted_all = datetime.now(UTC)
        # The withdrawals, each through its own path.
        services = api.runtime.services
        now = datetime.now(UTC)
        assert await sms_replies.stop(raw_id(self.a), {"text": "STOP"}, now)
        center = PreferenceCenter(services.consent, services.customers, services.tiers)
        customer_d = await Customer.get(id=raw_id(self.d))
        assert await center.one_click(customer_d, ["promos"], "email", {"ip": "203.0.113.9"})
        complaint = Delivery(id=new_id(), customer_id=raw_id(self.c), channel="sms")
        assert await withdraw_for_complaint("http-sms", complaint, now) == 1
        variables = {
            "i": {
                "customerId": self.a,
                "channel": "email",
                "category": "news",
                "source": "preference_center",
            }
        }
        payload = data(await api.gql(WITHDRAW, variables, token))["withdrawPermission"]
        assert payload["errors"] == []

    async def stats(self, group_by: list[str], **when: datetime) -> list[dict[str, Any]]:
        variables: dict[str, Any] = {"g": group_by}
        variables.update({k: v.isoformat() for k, v in when.items()})
        return data(await self.api.gql(CONSENT, variables, self.token))["consentStats"]


def by_pair(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["category"], r["channel"]): r for r in rows}


def counts(row: dict[str, Any]) -> dict[str, Any]:
    names = "customers reachable granted withdrawn expired pending neverAsked expiringSoon".split()
    return {name: row[name] for name in names}


async def test_consent_counts_on_a_built_history(api):
    history = History(api)
    await history.build()
    rows = by_pair(await history.stats(["CATEGORY", "CHANNEL"]))
    # Marketing categories' default channels only: the transactional one has no pairs.
    assert set(rows) == {("promos", "email"), ("promos", "sms"), ("news", "email")}
    assert counts(rows["promos", "email"]) == {
        "customers": 4,
        "reachable": 2,  # a and b; c has no email address; d withdrew
        "granted": 3,
        "withdrawn": 1,
        "expired": 0,
        "pending": 0,
        "neverAsked": 0,
        "expiringSoon": 1,  # b, in ten days
    }
    assert rows["promos", "email"]["optInRate"] == 0.75
    assert rows["promos", "email"]["withdrawals"] == [
        {"source": "one_click_unsubscribe", "count": 1}
    ]
    assert counts(rows["promos", "sms"]) == {
        "customers": 4,
        "reachable": 0,
        "granted": 0,
        "withdrawn": 2,
        "expired": 0,
        "pending": 0,
        "neverAsked": 2,
        "expiringSoon": 0,
    }
    assert sorted(rows["promos", "sms"]["withdrawals"], key=lambda w: w["source"]) == [
        {"source": "complaint", "count": 1},
        {"source": "sms_stop", "count": 1},
    ]
    assert counts(rows["news", "email"]) == {
        "customers": 4,
        "reachable": 0,
        "granted": 0,
        "withdrawn": 1,
        "expired": 0,
        "pending": 1,
        "neverAsked": 2,
        "expiringSoon": 0,
    }
    assert rows["news", "email"]["withdrawals"] == [{"source": "preference_center", "count": 1}]
    assert rows["news", "email"]["optInRate"] == 0.0
    assert all(r["tier"] is None and r["other"] is False for r in rows.values())


async def test_tiers_and_the_whole(api):
    history = History(api)
    await history.build()
    tiers = {r["tier"]: r for r in await history.stats(["TIER"])}
    assert tiers["HIGH_VALUE"]["customers"] == 3  # a's three pairs
    assert tiers["ORDINARY"]["customers"] == 9
    assert tiers["HIGH_VALUE"]["granted"] == 1  # a on promos/email
    [whole] = await history.stats([])
    assert (whole["customers"], whole["granted"], whole["withdrawn"]) == (12, 3, 4)
    assert sum(w["count"] for w in whole["withdrawals"]) == 4


async def test_a_later_as_of_sees_the_grant_expired(api):
    history = History(api)
    await history.build()
    later = history.in_ten_days + timedelta(days=1)
    rows = by_pair(await history.stats(["CATEGORY", "CHANNEL"], asOf=later))
    promos = rows["promos", "email"]
    assert (promos["granted"], promos["expired"], promos["expiringSoon"]) == (2, 1, 0)
    assert promos["reachable"] == 1


async def test_a_past_as_of_reads_the_ledger_as_it_stood(api):
    history = History(api)
    await history.build()
    rows = by_pair(await history.stats(["CATEGORY", "CHANNEL"], asOf=history.granted_all))
    assert counts(rows["promos", "sms"])["granted"] == 2  # a and c, before STOP and complaint
    assert rows["promos", "sms"]["withdrawn"] == 0
    assert rows["promos", "email"]["granted"] == 4  # d before its one click
    assert rows["news", "email"]["pending"] == 2
    # Withdrawals are counted in [since, asOf): none yet at that moment.
    assert all(r["withdrawals"] == [] for r in rows.values())


async def test_since_bounds_the_withdrawals(api):
    history = History(api)
    await history.build()
    after = datetime.now(UTC) + timedelta(seconds=1)
    rows = await history.stats([], asOf=after + timedelta(minutes=1), since=after)
    assert rows[0]["withdrawals"] == []
    assert rows[0]["withdrawn"] == 4  # the state still counts them


async def test_customers_and_categories_after_as_of_are_not_counted(api):
    _, token = await api.staff(Role.ADMIN)
    before = datetime.now(UTC)
    await create_category(api, token, "promos", defaultChannels=["email"])
    await create_customer(api, token, email="late@example.com")
    rows = data(await api.gql(CONSENT, {"g": [], "asOf": before.isoformat()}, token))
    assert rows["consentStats"] == []
    rows = data(await api.gql(CONSENT, {"g": []}, token))["consentStats"]
    assert [(r["customers"], r["neverAsked"]) for r in rows] == [(1, 1)]


async def test_channels_of_plugins_and_push_need_their_address(api):
    """reachable follows core/delivery/addresses.py: push needs a device, a plugin channel a
    non-empty string attribute, in_app nothing."""
    _, token = await api.staff(Role.ADMIN)
    await create_category(api, token, "promos", defaultChannels=["push", "in_app"])
    with_device = (await create_customer(api, token))["id"]
    bare = (await create_customer(api, token))["id"]
    device = (
        """mutation($i: RegisterDeviceInput!) { registerDevice(input: $i) { errors { code } } }"""
    )
    payload = data(
        await api.gql(
            device,
            {"i": {"customerId": with_device, "platform": "ANDROID", "token": "t" * 40}},
            token,
        )
    )["registerDevice"]
    assert payload["errors"] == []
    for customer in (with_device, bare):
        for channel in ("push", "in_app"):
            await grant(api, token, customer, "promos", channel)
    rows = {
        r["channel"]: r
        for r in data(await api.gql(CONSENT, {"g": ["CHANNEL"]}, token))["consentStats"]
    }
    assert (rows["push"]["granted"], rows["push"]["reachable"]) == (2, 1)
    assert (rows["in_app"]["granted"], rows["in_app"]["reachable"]) == (2, 2)


async def test_a_bounded_number_of_statements_whatever_the_size(api):
    _, token = await api.staff(Role.ADMIN)
    await create_category(api, token, "promos", defaultChannels=["email", "sms"])
    await create_category(api, token, "news", defaultChannels=["email"])
    query = consent_query((StatsDimension.CATEGORY, StatsDimension.CHANNEL))
    seen = []
    for _ in range(2):
        for n in range(3):
            customer = (
                await create_customer(api, token, email=f"c{n}-{new_id().hex[:6]}@example.com")
            )["id"]
            await grant(api, token, customer, "promos", "email")
        query = consent_query((StatsDimension.CATEGORY, StatsDimension.CHANNEL))
        with statement_log() as log:
            rows = await consent_stats(query)
        seen.append(len(log.statements))
        assert sum(r.customers for r in rows) > 0
    # The categories, the counts, the withdrawals: three, at three customers and at six.
    assert seen == [3, 3]


async def test_a_plugin_channel_is_reachable_through_a_non_empty_string_attribute(api):
    """A channel a plugin adds reads `attributes[channel]` (core/delivery/addresses.py): only a
    non-empty string is an address. The ledger entries are written as a plugin channel's grant
    would be (no such provider is installed here)."""
    from tidings.core.enums import GrantStatus
    from tidings.core.models import PermissionEntry

    _, token = await api.staff(Role.ADMIN)
    await create_category(api, token, "promos", defaultChannels=["email"])
    for attributes in ({"chat": "@ann"}, {"chat": ""}, {"chat": 5}, {}):
        customer = (await create_customer(api, token, attributes=attributes))["id"]
        await PermissionEntry.create(
            customer_id=raw_id(customer),
            channel="chat",
            category="promos",
            status=GrantStatus.GRANTED,
            source="api",
            granted_at=datetime.now(UTC),
            recorded_by="test",
        )
    rows = data(await api.gql(CONSENT, {"g": ["CHANNEL"]}, token))["consentStats"]
    chat = {r["channel"]: r for r in rows}["chat"]
    assert (chat["customers"], chat["granted"], chat["reachable"]) == (4, 4, 1)
