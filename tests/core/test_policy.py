"""The policy engine, rule by rule and in the contract's order: table-driven, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tidings.core.enums import (
    CategoryKind,
    DeliveryStatus,
    Frequency,
    GrantStatus,
    Tier,
)
from tidings.core.policy import (
    CAP_COUNTED_STATUSES,
    DEFAULT_TIER_POLICIES,
    DIGEST,
    FREQUENCY_CAP,
    NO_ADDRESS,
    NO_PERMISSION,
    OPTED_OUT,
    QUIET_HOURS,
    RULES,
    CategoryRule,
    Decision,
    GrantState,
    PreferenceState,
    Recipient,
    TierPolicy,
    TierPolicyError,
    channels_for,
    counts_toward_caps,
    decide,
    decide_channels,
    effective_grant_status,
    local_day_bounds,
    parse_tier_policies,
)

NOW = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)  # a Wednesday
REALTIME_UNCAPPED = TierPolicy(Frequency.REALTIME, daily_cap=None, category_daily_cap=None)
ALL_ADDRESSES = frozenset({"email", "sms", "push", "in_app"})


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def marketing(**changes: object) -> CategoryRule:
    base = CategoryRule(
        key="promo",
        kind=CategoryKind.MARKETING,
        required=False,
        respect_quiet_hours=True,
        fallback_channel=None,
        default_channels=("email",),
    )
    return replace(base, **changes)


def transactional(**changes: object) -> CategoryRule:
    base = CategoryRule(
        key="orders",
        kind=CategoryKind.TRANSACTIONAL,
        required=False,
        respect_quiet_hours=False,
        fallback_channel=None,
        default_channels=("email",),
    )
    return replace(base, **changes)


def granted(*channels: str, category: str = "promo", expires_at: datetime | None = None):
    return {(ch, category): GrantState(GrantStatus.GRANTED, expires_at) for ch in channels}


def pref(
    *channels: str,
    frequency: Frequency = Frequency.REALTIME,
    quiet: tuple[str, str] | None = None,
) -> PreferenceState:
    start, end = quiet if quiet else (None, None)
    return PreferenceState(channels, frequency, start, end)


def customer(**changes: object) -> Recipient:
    base = Recipient(
        customer_id="c1",
        timezone="UTC",
        tier=Tier.HIGH_VALUE,
        addresses=ALL_ADDRESSES,
        grants=granted("email", "sms", "push", "in_app"),
        preference=None,
        sent_today=0,
        sent_today_by_category={},
    )
    return replace(base, **changes)


def trail(decision: Decision) -> list[tuple[str, str]]:
    return [(outcome.rule, outcome.verdict) for outcome in decision.rules]


def run(
    category: CategoryRule | None = None,
    channel: str = "email",
    recipient: Recipient | None = None,
    policy: TierPolicy = REALTIME_UNCAPPED,
    now: datetime = NOW,
) -> Decision:
    return decide(category or marketing(), channel, recipient or customer(), policy, now)


ALL_PASS = [
    (NO_PERMISSION, "pass"),
    (OPTED_OUT, "pass"),
    (NO_ADDRESS, "pass"),
    (FREQUENCY_CAP, "pass"),
    (QUIET_HOURS, "pass"),
    (DIGEST, "pass"),
]


def test_everything_allowed_is_queued_with_every_rule_listed():
    decision = run()
    assert decision.status is DeliveryStatus.QUEUED
    assert decision.reason is None
    assert decision.not_before is None
    assert decision.channel == "email"
    assert trail(decision) == ALL_PASS
    assert [o.rule for o in decision.rules] == list(RULES)
    assert all(o.channel == "email" for o in decision.rules)


# Rule 1: permission -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grants", "expected", "detail"),
    [
        ({}, DeliveryStatus.SUPPRESSED, "no permission recorded"),
        (granted("email"), DeliveryStatus.QUEUED, "permission GRANTED"),
        (
            {("email", "promo"): GrantState(GrantStatus.WITHDRAWN, None)},
            DeliveryStatus.SUPPRESSED,
            "permission WITHDRAWN",
        ),
        (
            {("email", "promo"): GrantState(GrantStatus.EXPIRED, None)},
            DeliveryStatus.SUPPRESSED,
            "permission EXPIRED",
        ),
        (granted("email", expires_at=NOW), DeliveryStatus.SUPPRESSED, "permission EXPIRED"),
        (
            granted("email", expires_at=NOW - timedelta(seconds=1)),
            DeliveryStatus.SUPPRESSED,
            "permission EXPIRED",
        ),
        (
            granted("email", expires_at=NOW + timedelta(microseconds=1)),
            DeliveryStatus.QUEUED,
            "permission GRANTED until 2025-06-04T12:00:00.000001+00:00",
        ),
        # A naive expiry (as SQLite returns it) is read as UTC.
        (
            granted("email", expires_at=datetime(2025, 6, 4, 12, 0)),
            DeliveryStatus.SUPPRESSED,
            "permission EXPIRED",
        ),
        (granted("sms"), DeliveryStatus.SUPPRESSED, "no permission recorded"),
        (granted("email", category="other"), DeliveryStatus.SUPPRESSED, "no permission recorded"),
        # A withdrawn grant with a future expiry is still withdrawn.
        (
            {("email", "promo"): GrantState(GrantStatus.WITHDRAWN, NOW + timedelta(days=9))},
            DeliveryStatus.SUPPRESSED,
            "permission WITHDRAWN",
        ),
    ],
    ids=[
        "none",
        "granted",
        "withdrawn",
        "expired-status",
        "expires-exactly-now",
        "expired-a-second-ago",
        "expires-a-microsecond-later",
        "naive-expiry",
        "other-channel-only",
        "other-category-only",
        "withdrawn-future-expiry",
    ],
)
def test_marketing_needs_an_unexpired_grant_for_that_channel_and_category(grants, expected, detail):
    decision = run(recipient=customer(grants=grants))
    assert decision.status is expected
    assert decision.rules[0].rule == NO_PERMISSION
    assert decision.rules[0].detail == detail
    if expected is DeliveryStatus.SUPPRESSED:
        assert decision.reason == NO_PERMISSION
        assert trail(decision) == [(NO_PERMISSION, "stop")]


def test_grant_given_as_strings_is_understood():
    grants = {("email", "promo"): GrantState("GRANTED", None)}  # type: ignore[arg-type]
    assert run(recipient=customer(grants=grants)).status is DeliveryStatus.QUEUED


def test_transactional_needs_no_permission():
    decision = run(transactional(), recipient=customer(grants={}))
    assert decision.status is DeliveryStatus.QUEUED
    assert decision.rules[0].verdict == "skip"


@pytest.mark.parametrize(
    "grants",
    [
        {},
        {("email", "promo"): GrantState(GrantStatus.WITHDRAWN, None)},
        granted("email", expires_at=NOW),
    ],
    ids=["none", "withdrawn", "expired"],
)
def test_required_never_overrides_permission(grants):
    decision = run(marketing(required=True), recipient=customer(grants=grants))
    assert (decision.status, decision.reason) == (DeliveryStatus.SUPPRESSED, NO_PERMISSION)


@pytest.mark.parametrize(
    ("status", "expires_at", "expected"),
    [
        (GrantStatus.GRANTED, None, GrantStatus.GRANTED),
        (GrantStatus.GRANTED, NOW, GrantStatus.EXPIRED),
        (GrantStatus.GRANTED, NOW + timedelta(seconds=1), GrantStatus.GRANTED),
        (GrantStatus.WITHDRAWN, NOW - timedelta(days=1), GrantStatus.WITHDRAWN),
        (GrantStatus.EXPIRED, None, GrantStatus.EXPIRED),
    ],
)
def test_effective_grant_status(status, expires_at, expected):
    assert effective_grant_status(GrantState(status, expires_at), NOW) is expected
    assert effective_grant_status(None, NOW) is None


# The order of the rules ---------------------------------------------------------------------


EVERYTHING_WRONG = customer(
    grants={},
    addresses=frozenset(),
    preference=pref("sms", frequency=Frequency.DAILY_DIGEST, quiet=("11:00", "13:00")),
    sent_today=99,
    sent_today_by_category={"promo": 99},
)
CAPPED = TierPolicy(Frequency.REALTIME, daily_cap=3, category_daily_cap=1)


@pytest.mark.parametrize(
    ("fixes", "reason", "status"),
    [
        ({}, NO_PERMISSION, DeliveryStatus.SUPPRESSED),
        ({"grants": granted("email")}, OPTED_OUT, DeliveryStatus.SUPPRESSED),
        (
            {
                "grants": granted("email"),
                "preference": pref(
                    "email", frequency=Frequency.DAILY_DIGEST, quiet=("11:00", "13:00")
                ),
            },
            NO_ADDRESS,
            DeliveryStatus.SUPPRESSED,
        ),
        (
            {
                "grants": granted("email"),
                "preference": pref(
                    "email", frequency=Frequency.DAILY_DIGEST, quiet=("11:00", "13:00")
                ),
                "addresses": ALL_ADDRESSES,
            },
            FREQUENCY_CAP,
            DeliveryStatus.SUPPRESSED,
        ),
        (
            {
                "grants": granted("email"),
                "preference": pref(
                    "email", frequency=Frequency.DAILY_DIGEST, quiet=("11:00", "13:00")
                ),
                "addresses": ALL_ADDRESSES,
                "sent_today": 0,
                "sent_today_by_category": {},
            },
            QUIET_HOURS,
            DeliveryStatus.DEFERRED,
        ),
        (
            {
                "grants": granted("email"),
                "preference": pref("email", frequency=Frequency.DAILY_DIGEST),
                "addresses": ALL_ADDRESSES,
                "sent_today": 0,
                "sent_today_by_category": {},
            },
            DIGEST,
            DeliveryStatus.DEFERRED,
        ),
        (
            {
                "grants": granted("email"),
                "preference": pref("email"),
                "addresses": ALL_ADDRESSES,
                "sent_today": 0,
                "sent_today_by_category": {},
            },
            None,
            DeliveryStatus.QUEUED,
        ),
    ],
    ids=["no-permission", "opted-out", "no-address", "cap", "quiet-hours", "digest", "queued"],
)
def test_first_rule_that_stops_decides_and_later_rules_are_not_listed(fixes, reason, status):
    decision = run(recipient=replace(EVERYTHING_WRONG, **fixes), policy=CAPPED)
    assert (decision.status, decision.reason) == (status, reason)
    verdicts = trail(decision)
    if reason is None:
        assert verdicts == ALL_PASS
    else:
        position = RULES.index(reason)
        assert verdicts == [(rule, "pass") for rule in RULES[:position]] + [(reason, "stop")]
    assert (decision.not_before is not None) == (status is DeliveryStatus.DEFERRED)


# Rule 2: the customer's channels -----------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "preference", "expected"),
    [
        (marketing(), None, DeliveryStatus.QUEUED),
        (marketing(), pref("email", "sms"), DeliveryStatus.QUEUED),
        (marketing(), pref("sms"), DeliveryStatus.SUPPRESSED),
        (marketing(), pref(), DeliveryStatus.SUPPRESSED),
        (transactional(), pref("sms"), DeliveryStatus.SUPPRESSED),
        (transactional(), pref("email"), DeliveryStatus.QUEUED),
        (transactional(required=True), pref("sms"), DeliveryStatus.QUEUED),
        (marketing(required=True), pref(), DeliveryStatus.QUEUED),
    ],
    ids=[
        "no-preference",
        "included",
        "excluded",
        "no-channels",
        "transactional-excluded",
        "transactional-included",
        "required-transactional",
        "required-marketing",
    ],
)
def test_channel_preference(category, preference, expected):
    decision = run(category, recipient=customer(preference=preference))
    assert decision.status is expected
    if expected is DeliveryStatus.SUPPRESSED:
        assert decision.reason == OPTED_OUT
    outcome = decision.rules[1]
    assert outcome.rule == OPTED_OUT
    if category.required:
        assert (outcome.verdict, outcome.detail) == ("skip", "required")


# Rule 3: address and fallback --------------------------------------------------------------


def test_no_address_without_fallback():
    decision = run(recipient=customer(addresses=frozenset({"sms"})))
    assert (decision.status, decision.reason, decision.channel) == (
        DeliveryStatus.SUPPRESSED,
        NO_ADDRESS,
        "email",
    )
    assert not decision.fallback_taken


def test_fallback_taken_lists_both_channels_rules():
    decision = run(marketing(fallback_channel="sms"), recipient=customer(addresses={"sms"}))
    assert (decision.status, decision.channel) == (DeliveryStatus.QUEUED, "sms")
    assert decision.fallback_taken
    assert trail(decision) == [
        (NO_PERMISSION, "pass"),
        (OPTED_OUT, "pass"),
        (NO_ADDRESS, "stop"),
        *ALL_PASS,
    ]
    assert [o.channel for o in decision.rules] == ["email"] * 3 + ["sms"] * 6
    assert decision.rules[2].detail == "no address for email; trying fallback sms"
    assert all(o.detail.startswith("fallback from email: ") for o in decision.rules[3:])


@pytest.mark.parametrize(
    ("recipient", "reason", "status"),
    [
        (customer(addresses={"sms"}, grants=granted("push")), NO_PERMISSION, "SUPPRESSED"),
        (
            customer(
                addresses={"sms"},
                grants={
                    **granted("push"),
                    ("sms", "promo"): GrantState(GrantStatus.WITHDRAWN, None),
                },
            ),
            NO_PERMISSION,
            "SUPPRESSED",
        ),
        (customer(addresses={"sms"}, preference=pref("push")), OPTED_OUT, "SUPPRESSED"),
        (customer(addresses=frozenset()), NO_ADDRESS, "SUPPRESSED"),
        (
            customer(addresses={"sms"}, sent_today_by_category={"promo": 5}),
            FREQUENCY_CAP,
            "SUPPRESSED",
        ),
        (
            customer(addresses={"sms"}, preference=pref("push", "sms", quiet=("11:00", "13:00"))),
            QUIET_HOURS,
            "DEFERRED",
        ),
    ],
    ids=[
        "fallback-no-grant",
        "fallback-withdrawn",
        "fallback-opted-out",
        "fallback-no-address",
        "fallback-capped",
        "fallback-quiet",
    ],
)
def test_fallback_is_decided_by_every_rule(recipient, reason, status):
    decision = run(
        marketing(fallback_channel="sms"), channel="push", recipient=recipient, policy=CAPPED
    )
    assert (decision.channel, decision.status.value, decision.reason) == ("sms", status, reason)
    assert decision.rules[2].rule == NO_ADDRESS
    assert decision.rules[-1].verdict == "stop"
    assert decision.rules[-1].channel == "sms"


def test_fallback_without_address_does_not_chain():
    # The fallback's own missing address ends it: no second fallback, no loop.
    category = marketing(fallback_channel="sms")
    decision = run(category, channel="push", recipient=customer(addresses=frozenset()))
    assert [o.channel for o in decision.rules if o.rule == NO_ADDRESS] == ["push", "sms"]
    assert decision.rules[-1].detail == "fallback from push: no address for sms"


def test_fallback_to_itself_is_no_fallback():
    decision = run(marketing(fallback_channel="email"), recipient=customer(addresses={"sms"}))
    assert (decision.channel, decision.reason) == ("email", NO_ADDRESS)
    assert len(decision.rules) == 3


def test_fallback_can_be_switched_off():
    category = marketing(fallback_channel="sms")
    decision = decide(
        category, "email", customer(addresses={"sms"}), REALTIME_UNCAPPED, NOW, fallback=False
    )
    assert (decision.channel, decision.reason) == ("email", NO_ADDRESS)
    assert decision.rules[-1].detail == "no address for email; fallback sms is decided on its own"


def test_required_does_not_skip_the_address():
    decision = run(transactional(required=True), recipient=customer(addresses=frozenset()))
    assert decision.reason == NO_ADDRESS


def test_permission_is_checked_before_the_fallback_is_considered():
    # No email grant: rule 1 stops on email before rule 3 could turn to sms.
    category = marketing(fallback_channel="sms")
    decision = run(category, recipient=customer(addresses={"sms"}, grants=granted("sms")))
    assert (decision.channel, decision.reason) == ("email", NO_PERMISSION)


# Rule 4: frequency caps --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent_today", "by_category", "expected"),
    [
        (0, {}, None),
        (2, {}, None),
        (3, {}, FREQUENCY_CAP),
        (7, {}, FREQUENCY_CAP),
        (0, {"promo": 1}, FREQUENCY_CAP),
        (2, {"other": 5}, None),
        (2, {"promo": 0}, None),
    ],
)
def test_caps(sent_today, by_category, expected):
    recipient = customer(sent_today=sent_today, sent_today_by_category=by_category)
    decision = run(recipient=recipient, policy=CAPPED)
    assert decision.reason == expected


@pytest.mark.parametrize("tier", list(Tier))
def test_tier_default_caps(tier):
    policy = DEFAULT_TIER_POLICIES[tier]
    realtime = pref("email")  # so an ORDINARY customer is not digested
    under = customer(tier=tier, preference=realtime, sent_today=policy.daily_cap - 1)
    assert run(recipient=under, policy=policy).status is DeliveryStatus.QUEUED
    full = replace(under, sent_today=policy.daily_cap)
    assert run(recipient=full, policy=policy).reason == FREQUENCY_CAP
    category_full = replace(
        under, sent_today=0, sent_today_by_category={"promo": policy.category_daily_cap}
    )
    assert run(recipient=category_full, policy=policy).reason == FREQUENCY_CAP
    category_under = replace(category_full, sent_today_by_category={"promo": 0})
    assert run(recipient=category_under, policy=policy).status is DeliveryStatus.QUEUED


@pytest.mark.parametrize(
    ("category", "detail"),
    [
        (transactional(), "transactional: not capped"),
        (marketing(required=True), "required"),
        (transactional(required=True), "required"),
    ],
)
def test_caps_skip_transactional_and_required(category, detail):
    recipient = customer(sent_today=1000, sent_today_by_category={"orders": 99, "promo": 99})
    decision = run(category, recipient=recipient, policy=CAPPED)
    assert decision.status is DeliveryStatus.QUEUED
    outcome = decision.rules[3]
    assert (outcome.rule, outcome.verdict, outcome.detail) == (FREQUENCY_CAP, "skip", detail)


def test_what_counts_toward_caps():
    assert counts_toward_caps(marketing())
    assert not counts_toward_caps(marketing(required=True))
    assert not counts_toward_caps(transactional())
    # Everything that went or is going out; a bounce or a complaint came after it went.
    assert set(CAP_COUNTED_STATUSES) == {
        DeliveryStatus.QUEUED,
        DeliveryStatus.SENT,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.BOUNCED,
        DeliveryStatus.COMPLAINED,
    }


# Rule 5: quiet hours -----------------------------------------------------------------------


def quiet(timezone: str, window: tuple[str, str], now: datetime, category=None) -> Decision:
    recipient = customer(timezone=timezone, preference=pref("email", quiet=window))
    return run(category, recipient=recipient, now=now)


NIGHT = ("22:00", "08:00")


@pytest.mark.parametrize(
    ("timezone", "window", "now", "until"),
    [
        # Asia/Shanghai is UTC+8 all year; the window crosses midnight.
        ("Asia/Shanghai", NIGHT, at(2025, 6, 4, 13, 59), None),
        ("Asia/Shanghai", NIGHT, at(2025, 6, 4, 14, 0), at(2025, 6, 5, 0, 0)),
        ("Asia/Shanghai", NIGHT, at(2025, 6, 4, 16, 0), at(2025, 6, 5, 0, 0)),
        ("Asia/Shanghai", NIGHT, at(2025, 6, 4, 23, 59), at(2025, 6, 5, 0, 0)),
        ("Asia/Shanghai", NIGHT, at(2025, 6, 5, 0, 0), None),
        # A window within one day.
        ("Asia/Shanghai", ("13:00", "15:00"), at(2025, 6, 4, 4, 59), None),
        ("Asia/Shanghai", ("13:00", "15:00"), at(2025, 6, 4, 5, 30), at(2025, 6, 4, 7, 0)),
        ("Asia/Shanghai", ("13:00", "15:00"), at(2025, 6, 4, 7, 0), None),
        # New York, the night the clocks go forward (2025-03-09 02:00 EST -> 03:00 EDT).
        ("America/New_York", NIGHT, at(2025, 3, 8, 12, 59), at(2025, 3, 8, 13, 0)),
        ("America/New_York", NIGHT, at(2025, 3, 9, 3, 0), at(2025, 3, 9, 12, 0)),
        ("America/New_York", NIGHT, at(2025, 3, 9, 11, 59), at(2025, 3, 9, 12, 0)),
        ("America/New_York", NIGHT, at(2025, 3, 9, 12, 0), None),
        # ... and back (2025-11-02 02:00 EDT -> 01:00 EST): the night is an hour longer.
        ("America/New_York", NIGHT, at(2025, 11, 2, 2, 0), at(2025, 11, 2, 13, 0)),
        ("America/New_York", NIGHT, at(2025, 11, 2, 12, 59), at(2025, 11, 2, 13, 0)),
        ("America/New_York", NIGHT, at(2025, 11, 2, 13, 0), None),
        # A window ending at 02:30, which 2025-03-09 skips: it ends at the jump (03:00 EDT).
        ("America/New_York", ("22:00", "02:30"), at(2025, 3, 9, 6, 59), at(2025, 3, 9, 7, 0)),
        ("America/New_York", ("22:00", "02:30"), at(2025, 3, 9, 7, 0), None),
        # A window starting at the skipped 02:30 starts at the jump.
        ("America/New_York", ("02:30", "05:00"), at(2025, 3, 9, 6, 59), None),
        ("America/New_York", ("02:30", "05:00"), at(2025, 3, 9, 7, 0), at(2025, 3, 9, 9, 0)),
        # A window ending inside the repeated hour: quiet whenever the clock reads inside it.
        ("America/New_York", ("22:00", "01:30"), at(2025, 11, 2, 5, 10), at(2025, 11, 2, 5, 30)),
        ("America/New_York", ("22:00", "01:30"), at(2025, 11, 2, 5, 45), None),
        ("America/New_York", ("22:00", "01:30"), at(2025, 11, 2, 6, 10), at(2025, 11, 2, 6, 30)),
        # London goes forward at 01:00 GMT; a window to 01:30 ends at the jump.
        ("Europe/London", ("23:00", "01:30"), at(2025, 3, 30, 0, 59), at(2025, 3, 30, 1, 0)),
        # Unknown zones are read as UTC rather than failing the send.
        ("Nowhere/Atlantis", NIGHT, at(2025, 6, 4, 23, 0), at(2025, 6, 5, 8, 0)),
    ],
)
def test_quiet_hours(timezone, window, now, until):
    decision = quiet(timezone, window, now)
    if until is None:
        assert decision.status is DeliveryStatus.QUEUED
        assert decision.rules[4].verdict == "pass"
    else:
        assert (decision.status, decision.reason) == (DeliveryStatus.DEFERRED, QUIET_HOURS)
        assert decision.not_before == until
        assert decision.not_before.tzinfo is UTC
        # At the window's end the same delivery goes.
        assert quiet(timezone, window, until).status is DeliveryStatus.QUEUED


@pytest.mark.parametrize(
    ("category", "preference", "verdict", "detail"),
    [
        (transactional(), pref("email", quiet=NIGHT), "skip", "the category ignores quiet hours"),
        (
            marketing(respect_quiet_hours=False),
            pref("email", quiet=NIGHT),
            "skip",
            "the category ignores quiet hours",
        ),
        (marketing(required=True), pref("email", quiet=NIGHT), "skip", "required"),
        (marketing(), pref("email"), "pass", "no quiet hours set"),
        (marketing(), None, "pass", "no quiet hours set"),
    ],
)
def test_quiet_hours_apply_only_where_the_category_respects_them(
    category, preference, verdict, detail
):
    recipient = customer(timezone="Asia/Shanghai", preference=preference)
    decision = run(category, recipient=recipient, now=at(2025, 6, 4, 15, 0))  # 23:00 local
    assert decision.status is DeliveryStatus.QUEUED
    outcome = decision.rules[4]
    assert (outcome.rule, outcome.verdict, outcome.detail) == (QUIET_HOURS, verdict, detail)


def test_transactional_that_respects_quiet_hours_is_deferred():
    category = transactional(respect_quiet_hours=True)
    decision = quiet("Asia/Shanghai", NIGHT, at(2025, 6, 4, 15, 0), category)
    assert decision.reason == QUIET_HOURS
    assert decision.not_before == at(2025, 6, 5, 0, 0)


# Rule 6: digests, and tier policy against the customer's own -------------------------------


def digest(timezone: str, frequency: Frequency, now: datetime, **policy: int) -> Decision:
    recipient = customer(timezone=timezone, preference=pref("email", frequency=frequency))
    return run(recipient=recipient, now=now, policy=replace(REALTIME_UNCAPPED, **policy))


DAILY, WEEKLY = Frequency.DAILY_DIGEST, Frequency.WEEKLY_DIGEST


@pytest.mark.parametrize(
    ("timezone", "frequency", "now", "policy", "expected"),
    [
        ("UTC", DAILY, at(2025, 6, 4, 8, 0), {}, at(2025, 6, 4, 9, 0)),
        ("UTC", DAILY, at(2025, 6, 4, 9, 0), {}, at(2025, 6, 5, 9, 0)),
        ("UTC", DAILY, at(2025, 6, 4, 10, 0), {}, at(2025, 6, 5, 9, 0)),
        ("Asia/Shanghai", DAILY, at(2025, 6, 4, 2, 0), {}, at(2025, 6, 5, 1, 0)),
        ("Asia/Shanghai", DAILY, at(2025, 6, 4, 0, 59), {}, at(2025, 6, 4, 1, 0)),
        ("America/New_York", DAILY, at(2025, 6, 4, 12, 0), {}, at(2025, 6, 4, 13, 0)),
        ("Asia/Kolkata", DAILY, at(2025, 6, 4, 12, 0), {}, at(2025, 6, 5, 3, 30)),
        ("Pacific/Auckland", DAILY, at(2025, 6, 4, 12, 0), {}, at(2025, 6, 4, 21, 0)),
        ("UTC", DAILY, at(2025, 6, 4, 12, 0), {"digest_hour": 18}, at(2025, 6, 4, 18, 0)),
        # Weekly, Monday 09:00 local by default.
        ("Asia/Shanghai", WEEKLY, at(2025, 6, 4, 12, 0), {}, at(2025, 6, 9, 1, 0)),
        ("Asia/Shanghai", WEEKLY, at(2025, 6, 9, 0, 59), {}, at(2025, 6, 9, 1, 0)),
        ("Asia/Shanghai", WEEKLY, at(2025, 6, 9, 1, 0), {}, at(2025, 6, 16, 1, 0)),
        ("America/New_York", WEEKLY, at(2025, 3, 5, 12, 0), {}, at(2025, 3, 10, 13, 0)),
        (
            "UTC",
            WEEKLY,
            at(2025, 6, 6, 17, 0),
            {"digest_hour": 18, "weekly_digest_weekday": 4},
            at(2025, 6, 6, 18, 0),
        ),
        (
            "UTC",
            WEEKLY,
            at(2025, 6, 6, 18, 30),
            {"digest_hour": 18, "weekly_digest_weekday": 4},
            at(2025, 6, 13, 18, 0),
        ),
        # A digest hour the clock skips is taken at the jump.
        (
            "America/New_York",
            DAILY,
            at(2025, 3, 8, 12, 0),
            {"digest_hour": 2},
            at(2025, 3, 9, 7, 0),
        ),
    ],
)
def test_digest_times(timezone, frequency, now, policy, expected):
    decision = digest(timezone, frequency, now, **policy)
    assert (decision.status, decision.reason) == (DeliveryStatus.DEFERRED, DIGEST)
    assert decision.not_before == expected


def test_digest_due_lets_a_held_delivery_go_but_checks_everything_else():
    recipient = customer(preference=pref("email", frequency=DAILY))
    released = decide(marketing(), "email", recipient, REALTIME_UNCAPPED, NOW, digest_due=True)
    assert released.status is DeliveryStatus.QUEUED
    assert released.rules[-1].detail == "DAILY_DIGEST (customer preference): digest due"
    withdrawn = replace(recipient, grants={})
    held = decide(marketing(), "email", withdrawn, REALTIME_UNCAPPED, NOW, digest_due=True)
    assert held.reason == NO_PERMISSION


@pytest.mark.parametrize(
    ("tier", "preference", "reason", "source"),
    [
        (Tier.ORDINARY, None, DIGEST, "DAILY_DIGEST (ORDINARY tier policy)"),
        (Tier.ORDINARY, pref("email"), None, "REALTIME (customer preference)"),
        (Tier.HIGH_VALUE, None, None, "REALTIME (HIGH_VALUE tier policy)"),
        (Tier.POTENTIAL, None, None, "REALTIME (POTENTIAL tier policy)"),
        (
            Tier.HIGH_VALUE,
            pref("email", frequency=DAILY),
            DIGEST,
            "DAILY_DIGEST (customer preference)",
        ),
        (
            Tier.POTENTIAL,
            pref("email", frequency=WEEKLY),
            DIGEST,
            "WEEKLY_DIGEST (customer preference)",
        ),
    ],
)
def test_customer_frequency_wins_over_tier_policy(tier, preference, reason, source):
    recipient = customer(tier=tier, preference=preference)
    decision = run(recipient=recipient, policy=DEFAULT_TIER_POLICIES[tier])
    assert decision.reason == reason
    assert decision.rules[-1].rule == DIGEST
    assert decision.rules[-1].detail.startswith(source)


@pytest.mark.parametrize("frequency", [DAILY, WEEKLY])
def test_transactional_is_never_digested(frequency):
    recipient = customer(tier=Tier.ORDINARY, preference=pref("email", frequency=frequency))
    decision = run(
        transactional(), recipient=recipient, policy=DEFAULT_TIER_POLICIES[Tier.ORDINARY]
    )
    assert decision.status is DeliveryStatus.QUEUED
    assert decision.rules[-1].detail == "transactional: never digested"


# `required`: skips 2, 4, 5 and 6, never 1 --------------------------------------------------


@pytest.mark.parametrize("kind", list(CategoryKind))
def test_required_skips_preference_caps_quiet_hours_and_digest(kind):
    category = CategoryRule("security", kind, True, True, None, ("email",))
    recipient = customer(
        tier=Tier.ORDINARY,
        grants=granted("email", category="security"),
        preference=pref("sms", frequency=WEEKLY, quiet=("00:00", "23:59")),
        sent_today=100,
        sent_today_by_category={"security": 100},
    )
    decision = run(category, recipient=recipient, policy=DEFAULT_TIER_POLICIES[Tier.ORDINARY])
    assert decision.status is DeliveryStatus.QUEUED
    first = "pass" if kind is CategoryKind.MARKETING else "skip"
    assert trail(decision) == [
        (NO_PERMISSION, first),
        (OPTED_OUT, "skip"),
        (NO_ADDRESS, "pass"),
        (FREQUENCY_CAP, "skip"),
        (QUIET_HOURS, "skip"),
        (DIGEST, "skip"),
    ]
    assert [
        o.detail for o in decision.rules if o.verdict == "skip" and o.rule != NO_PERMISSION
    ] == ["required"] * 4


# Several channels for one recipient --------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "preference", "defaults", "expected"),
    [
        (["sms", "push"], pref("email"), ("in_app",), ("sms", "push")),
        (["sms", "sms", "push"], None, ("in_app",), ("sms", "push")),
        (None, pref("email", "push"), ("in_app",), ("email", "push")),
        ([], pref("email"), ("in_app",), ("email",)),
        (None, None, ("in_app", "email"), ("in_app", "email")),
        (None, pref(), ("in_app",), ("in_app",)),
    ],
    ids=[
        "requested",
        "requested-deduplicated",
        "preference",
        "empty-request",
        "defaults",
        "preference-with-no-channel",
    ],
)
def test_channels_for(requested, preference, defaults, expected):
    category = marketing(default_channels=defaults)
    assert channels_for(category, customer(preference=preference), requested) == expected


def test_decide_channels_counts_each_queued_delivery_toward_the_caps():
    policy = TierPolicy(Frequency.REALTIME, daily_cap=None, category_daily_cap=1)
    decisions = decide_channels(marketing(), ["email", "sms", "email"], customer(), policy, NOW)
    assert [(d.channel, d.status, d.reason) for d in decisions] == [
        ("email", DeliveryStatus.QUEUED, None),
        ("sms", DeliveryStatus.SUPPRESSED, FREQUENCY_CAP),
    ]


def test_decide_channels_does_not_count_transactional_deliveries():
    policy = TierPolicy(Frequency.REALTIME, daily_cap=1, category_daily_cap=1)
    decisions = decide_channels(transactional(), ["email", "sms"], customer(), policy, NOW)
    assert [d.status for d in decisions] == [DeliveryStatus.QUEUED] * 2


def test_decide_channels_never_reaches_one_channel_twice_through_fallback():
    category = marketing(fallback_channel="sms")
    recipient = customer(addresses={"sms", "in_app"})
    decisions = decide_channels(category, ["push", "sms"], recipient, REALTIME_UNCAPPED, NOW)
    assert [(d.channel, d.reason) for d in decisions] == [("push", NO_ADDRESS), ("sms", None)]
    decisions = decide_channels(category, ["push", "email"], recipient, REALTIME_UNCAPPED, NOW)
    assert [(d.channel, d.reason) for d in decisions] == [("sms", None), ("email", NO_ADDRESS)]


# The local day, for counting --------------------------------------------------------------


@pytest.mark.parametrize(
    ("timezone", "now", "start", "end"),
    [
        ("UTC", NOW, at(2025, 6, 4), at(2025, 6, 5)),
        ("Asia/Shanghai", at(2025, 6, 4, 17, 0), at(2025, 6, 4, 16, 0), at(2025, 6, 5, 16, 0)),
        ("Asia/Shanghai", at(2025, 6, 4, 15, 59), at(2025, 6, 3, 16, 0), at(2025, 6, 4, 16, 0)),
        ("America/New_York", at(2025, 3, 9, 12), at(2025, 3, 9, 5), at(2025, 3, 10, 4)),
        ("America/New_York", at(2025, 11, 2, 12), at(2025, 11, 2, 4), at(2025, 11, 3, 5)),
        # Santiago goes forward at midnight: 2025-09-07 begins at 01:00 local.
        ("America/Santiago", at(2025, 9, 7, 12), at(2025, 9, 7, 4), at(2025, 9, 8, 3)),
        ("Nowhere/Atlantis", NOW, at(2025, 6, 4), at(2025, 6, 5)),
    ],
)
def test_local_day_bounds(timezone, now, start, end):
    assert local_day_bounds(timezone, now) == (start, end)


# Inputs ------------------------------------------------------------------------------------


def test_decide_refuses_a_naive_clock():
    with pytest.raises(ValueError, match="timezone-aware"):
        run(now=datetime(2025, 6, 4, 12, 0))


def test_decide_accepts_a_clock_in_any_zone():
    from zoneinfo import ZoneInfo

    local = NOW.astimezone(ZoneInfo("Asia/Shanghai"))
    assert run(now=local) == run(now=NOW)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("22:00", None, "both"),
        (None, "08:00", "both"),
        ("22:00", "22:00", "same time"),
        ("24:00", "08:00", "HH:MM"),
        ("7:00", "08:00", "HH:MM"),
    ],
)
def test_preference_refuses_bad_quiet_hours(start, end, message):
    with pytest.raises(ValueError, match=message):
        PreferenceState(("email",), Frequency.REALTIME, start, end)


def test_plain_values_are_coerced_to_enums_and_tuples():
    state = PreferenceState(["email"], "DAILY_DIGEST")  # type: ignore[arg-type]
    assert state.frequency is Frequency.DAILY_DIGEST
    assert state.channels == ("email",)
    category = CategoryRule("promo", "MARKETING", False, True, None, ["email"])  # type: ignore[arg-type]
    assert category.kind is CategoryKind.MARKETING
    assert category.default_channels == ("email",)


# Tier policy setting -----------------------------------------------------------------------


def test_default_tier_policies():
    assert DEFAULT_TIER_POLICIES[Tier.HIGH_VALUE] == TierPolicy(Frequency.REALTIME, 10, 3)
    assert DEFAULT_TIER_POLICIES[Tier.POTENTIAL] == TierPolicy(Frequency.REALTIME, 5, 2)
    assert DEFAULT_TIER_POLICIES[Tier.ORDINARY] == TierPolicy(Frequency.DAILY_DIGEST, 3, 1)
    assert all(
        p.digest_hour == 9 and p.weekly_digest_weekday == 0 for p in DEFAULT_TIER_POLICIES.values()
    )


def test_parse_tier_policies_overrides_only_what_it_names():
    policies = parse_tier_policies(
        '{"ordinary": {"marketing_frequency": "weekly_digest", "daily_cap": null},'
        ' "POTENTIAL": {"digest_hour": 20, "weekly_digest_weekday": 6}}'
    )
    assert policies[Tier.ORDINARY] == TierPolicy(Frequency.WEEKLY_DIGEST, None, 1)
    assert policies[Tier.POTENTIAL] == TierPolicy(Frequency.REALTIME, 5, 2, 20, 6)
    assert policies[Tier.HIGH_VALUE] == DEFAULT_TIER_POLICIES[Tier.HIGH_VALUE]
    assert parse_tier_policies("") == dict(DEFAULT_TIER_POLICIES)
    assert parse_tier_policies({"HIGH_VALUE": {"daily_cap": 0}})[Tier.HIGH_VALUE].daily_cap == 0


@pytest.mark.parametrize(
    ("raw", "where", "problem"),
    [
        ("{not json", "", "not valid JSON"),
        ("[1, 2]", "", "JSON object keyed by tier"),
        ('{"GOLD": {}}', "GOLD", "unknown tier"),
        ('{"ORDINARY": 3}', "ORDINARY", "object of policy fields"),
        ('{"ORDINARY": {"cap": 3}}', "ORDINARY.cap", "unknown field"),
        (
            '{"ORDINARY": {"marketing_frequency": "HOURLY"}}',
            "ORDINARY.marketing_frequency",
            "REALTIME, DAILY_DIGEST, WEEKLY_DIGEST",
        ),
        ('{"ORDINARY": {"daily_cap": -1}}', "ORDINARY", "daily_cap"),
        ('{"ORDINARY": {"daily_cap": "3"}}', "ORDINARY", "daily_cap"),
        ('{"ORDINARY": {"category_daily_cap": true}}', "ORDINARY", "category_daily_cap"),
        ('{"ORDINARY": {"category_daily_cap": 1.5}}', "ORDINARY", "category_daily_cap"),
        ('{"ORDINARY": {"digest_hour": 24}}', "ORDINARY", "digest_hour"),
        ('{"ORDINARY": {"weekly_digest_weekday": 7}}', "ORDINARY", "weekly_digest_weekday"),
    ],
)
def test_parse_tier_policies_names_what_is_wrong(raw, where, problem):
    with pytest.raises(TierPolicyError, match="tier policy") as caught:
        parse_tier_policies(raw)
    assert caught.value.where == where
    assert problem in caught.value.problem
    assert isinstance(caught.value, ValueError)
