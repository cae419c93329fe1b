"""explainDelivery: the decision a send would get now and every rule that spoke, with nothing
written and nothing sent. The app serves email (a local SMTP server) and sms (an HTTP API that
is never called: nothing is sent), so the policy's verdicts are what these tests read; one
test leaves a channel unserved and gets NO_PROVIDER."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import Api, data, make_settings
from tests.delivery.conftest import smtp_settings
from tests.delivery.support import (
    create_category,
    create_customer,
    explain,
    grant,
    parse_time,
    set_preference,
)
from tidings.api.app import create_app
from tidings.core.enums import Role, Tier
from tidings.core.models.messages import Delivery, Message
from tidings.schema.ids import to_global_id

ZONE = "Europe/Berlin"


@pytest.fixture
async def api(db: str, smtp) -> AsyncIterator[Api]:
    """This module's app: email and sms served, so a delivery the policy allows is QUEUED."""
    settings = make_settings(
        db,
        **smtp_settings(smtp.controller.port),
        TIDINGS_SMS_URL="http://127.0.0.1:9/never-called",
        TIDINGS_SMS_API_KEY="unused",
        TIDINGS_SMS_FROM="Tidings",
        TIDINGS_IN_PROCESS_WORKER="false",
    )
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client=client, app=app)


async def setup(api, tier="HIGH_VALUE", **customer):
    _, token = await api.staff(Role.ADMIN)
    await create_category(
        api, token, "promos", "MARKETING", defaultChannels=["email"], fallbackChannel="sms"
    )
    fields = {"email": "ann@example.com", "tier": tier, "timezone": ZONE, **customer}
    created = await create_customer(api, token, **fields)
    return token, created["id"]


async def decided(api, token, customer, channel="email", category="promos"):
    result = await explain(api, token, customer, category, channel)
    return data(result)["explainDelivery"]


def verdicts(explanation) -> list[tuple[str, str]]:
    return [(r["rule"], r["verdict"]) for r in explanation["rules"]]


async def nothing_written(smtp=None):
    assert await Delivery.all().count() == 0
    assert await Message.all().count() == 0
    if smtp is not None:
        assert smtp.received == []


async def test_no_permission(mail_api, smtp):
    token, customer = await setup(mail_api)
    got = await decided(mail_api, token, customer)
    assert (got["status"], got["reason"], got["notBefore"]) == ("SUPPRESSED", "NO_PERMISSION", None)
    assert verdicts(got) == [("NO_PERMISSION", "STOP")]
    assert got["rules"][0]["detail"] == "no permission recorded"
    await mail_api.runtime.worker.run_once()
    await nothing_written(smtp)


async def test_opted_out(api):
    token, customer = await setup(api)
    await grant(api, token, customer, "promos")
    await set_preference(api, token, customer, "promos", ["in_app"])
    got = await decided(api, token, customer)
    assert (got["status"], got["reason"]) == ("SUPPRESSED", "OPTED_OUT")
    assert verdicts(got) == [("NO_PERMISSION", "PASS"), ("OPTED_OUT", "STOP")]
    assert "in_app" in got["rules"][-1]["detail"]
    await nothing_written()


async def test_no_address_lists_the_fallback_rules(api):
    token, customer = await setup(api, email=None)
    for channel in ("email", "sms"):
        await grant(api, token, customer, "promos", channel)
    got = await decided(api, token, customer)
    assert (got["status"], got["reason"], got["channel"]) == ("SUPPRESSED", "NO_ADDRESS", "sms")
    assert verdicts(got) == [
        ("NO_PERMISSION", "PASS"),
        ("OPTED_OUT", "PASS"),
        ("NO_ADDRESS", "STOP"),  # email: none; trying the fallback
        ("NO_PERMISSION", "PASS"),  # the fallback, sms, decided by the same rules
        ("OPTED_OUT", "PASS"),
        ("NO_ADDRESS", "STOP"),
    ]
    details = [r["detail"] for r in got["rules"]]
    assert "trying fallback sms" in details[2]
    assert all(d.startswith("fallback from email") for d in details[3:])

    # With a phone on file the fallback is taken instead.
    data(
        await api.gql(
            "mutation($i: UpdateCustomerInput!) { updateCustomer(input: $i) { errors { code } } }",
            {"i": {"id": customer, "phone": "+15550001111"}},
            token,
        )
    )
    got = await decided(api, token, customer)
    assert (got["status"], got["reason"], got["channel"]) == ("QUEUED", None, "sms")
    assert ("NO_ADDRESS", "STOP") in verdicts(got)
    assert verdicts(got)[-1] == ("DIGEST", "PASS")
    await nothing_written()


async def test_quiet_hours(api):
    token, customer = await setup(api)
    await grant(api, token, customer, "promos")
    local = datetime.now(UTC).astimezone(ZoneInfo(ZONE))
    quiet = (
        (local - timedelta(hours=1)).strftime("%H:%M"),
        (local + timedelta(hours=3)).strftime("%H:%M"),
    )
    await set_preference(api, token, customer, "promos", ["email"], quiet=quiet)
    got = await decided(api, token, customer)
    assert (got["status"], got["reason"]) == ("DEFERRED", "QUIET_HOURS")
    ends = parse_time(got["notBefore"]).astimezone(ZoneInfo(ZONE))
    assert ends.strftime("%H:%M") == quiet[1]
    assert verdicts(got) == [
        ("NO_PERMISSION", "PASS"),
        ("OPTED_OUT", "PASS"),
        ("NO_ADDRESS", "PASS"),
        ("FREQUENCY_CAP", "PASS"),
        ("QUIET_HOURS", "STOP"),
    ]
    await nothing_written()


async def test_digest(api):
    token, customer = await setup(api, tier="ORDINARY")
    await grant(api, token, customer, "promos")
    got = await decided(api, token, customer)
    assert (got["status"], got["reason"]) == ("DEFERRED", "DIGEST")
    at = parse_time(got["notBefore"]).astimezone(ZoneInfo(ZONE))
    assert (at.hour, at.minute) == (api.runtime.worker.tiers.for_tier(Tier.ORDINARY).digest_hour, 0)
    assert verdicts(got)[-1] == ("DIGEST", "STOP")
    assert "ORDINARY tier policy" in got["rules"][-1]["detail"]
    await nothing_written()


async def test_queued_with_every_rule(mail_api, smtp):
    token, customer = await setup(mail_api)
    await grant(mail_api, token, customer, "promos")
    got = await decided(mail_api, token, customer)
    assert (got["status"], got["reason"], got["channel"]) == ("QUEUED", None, "email")
    assert verdicts(got) == [
        (rule, "PASS")
        for rule in (
            "NO_PERMISSION",
            "OPTED_OUT",
            "NO_ADDRESS",
            "FREQUENCY_CAP",
            "QUIET_HOURS",
            "DIGEST",
        )
    ]
    await mail_api.runtime.worker.run_once()
    await nothing_written(smtp)


async def test_transactional_skips_what_does_not_apply(api):
    token, customer = await setup(api)
    await create_category(api, token, "receipts", "TRANSACTIONAL", defaultChannels=["email"])
    got = await decided(api, token, customer, category="receipts")
    assert got["status"] == "QUEUED"
    assert dict(verdicts(got)) == {
        "NO_PERMISSION": "SKIP",
        "OPTED_OUT": "PASS",
        "NO_ADDRESS": "PASS",
        "FREQUENCY_CAP": "SKIP",
        "QUIET_HOURS": "SKIP",
        "DIGEST": "SKIP",
    }


async def test_unknown_category_or_channel_is_bad_user_input(api):
    token, customer = await setup(api)
    for category, channel, reason in (
        ("nope", "email", "UNKNOWN_CATEGORY"),
        ("promos", "carrier-pigeon", "UNKNOWN_CHANNEL"),
    ):
        result = await explain(api, token, customer, category, channel)
        assert list(result["data"].values()) == [None]
        [error] = result["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["reason"] == reason
    await nothing_written()


async def test_a_customer_the_caller_may_not_see_is_not_found(api):
    token, customer = await setup(api)
    agent_id, agent = await api.staff(Role.AGENT)
    missing = to_global_id("Customer", uuid.uuid4())
    answers = []
    for who in (customer, missing):
        result = await explain(api, agent, who, "promos", "email")
        assert list(result["data"].values()) == [None]
        [error] = result["errors"]
        answers.append((error["message"], error["extensions"]))
    # Hidden and nonexistent look the same.
    assert answers[0] == answers[1]
    assert answers[0][1]["code"] == "BAD_USER_INPUT"
    assert answers[0][1]["reason"] == "NOT_FOUND"

    # Given access, the same agent gets its answer.
    payload = data(
        await api.gql(
            "mutation($i: GrantAccessInput!) { grantAccess(input: $i) { errors { code } } }",
            {"i": {"staffId": str(agent_id), "customerId": customer, "actions": ["READ"]}},
            token,
        )
    )["grantAccess"]
    assert payload["errors"] == []
    got = await decided(api, agent, customer)
    assert got["reason"] == "NO_PERMISSION"


async def test_a_channel_no_provider_serves_says_no_provider(db):
    """The policy lets it through, but nothing would carry it: the worker would fail it with
    NO_PROVIDER, and the explanation says so instead of promising a send."""
    app = create_app(make_settings(db), manage_database=False)  # no SMTP, no SMS settings
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        bare = Api(client=client, app=app)
        token, customer = await setup(bare)
        await grant(bare, token, customer, "promos")
        got = await decided(bare, token, customer)
        assert (got["status"], got["reason"], got["notBefore"]) == (
            "FAILED",
            "NO_PROVIDER",
            None,
        )
        assert verdicts(got)[-2:] == [("DIGEST", "PASS"), ("NO_PROVIDER", "STOP")]
        assert got["rules"][-1]["detail"] == "no provider serves email"
        assert got["rules"][-1]["channel"] == "email"
        # in_app is always served: the same customer's in-app delivery would be queued.
        await create_category(bare, token, "notes", "TRANSACTIONAL", defaultChannels=["in_app"])
        got = await decided(bare, token, customer, channel="in_app", category="notes")
        assert (got["status"], got["reason"]) == ("QUEUED", None)
        await nothing_written()
