"""Properties of the policy engine over random grants, preferences, caps, tiers, clocks and
timezones. The first is the promise Tidings exists for: no marketing delivery goes ahead
without an unexpired GRANTED permission for that exact channel and category."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidings.core.enums import (
    CategoryKind,
    DeliveryStatus,
    Frequency,
    GrantStatus,
    Tier,
)
from tidings.core.policy import (
    DIGEST,
    QUIET_HOURS,
    RULES,
    CategoryRule,
    Decision,
    GrantState,
    PreferenceState,
    Recipient,
    TierPolicy,
    decide,
    decide_channels,
    local_day_bounds,
)

CHANNELS = ("email", "sms", "push", "in_app", "chat")
CATEGORIES = ("promo", "news", "orders")
ZONES = (
    "UTC",
    "Asia/Shanghai",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # half-hour DST
    "Asia/Kathmandu",  # +05:45
    "Pacific/Chatham",  # +12:45/+13:45
    "America/Santiago",  # DST at midnight
    "America/St_Johns",
    "Africa/Casablanca",  # DST suspended for Ramadan
    "Pacific/Apia",  # skipped a whole day in 2011
    "Pacific/Kiritimati",  # +14
    "Nowhere/Atlantis",  # unknown: read as UTC
)
PROPERTY = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

clocks = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
hhmm = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 1, 30, 45, 59])
)
caps = st.none() | st.integers(0, 4)
channels = st.lists(st.sampled_from(CHANNELS), max_size=4, unique=True).map(tuple)


@st.composite
def preferences(draw: st.DrawFn) -> PreferenceState | None:
    if draw(st.booleans()):
        return None
    start = end = None
    if draw(st.booleans()):
        start, end = draw(hhmm), draw(hhmm)
        if start == end:
            start = end = None
    return PreferenceState(draw(channels), draw(st.sampled_from(Frequency)), start, end)


def grant_states(now: datetime) -> st.SearchStrategy[GrantState]:
    """Grants around `now`: expiring exactly now, a moment either side, far off, or never."""
    offsets = st.sampled_from(
        [timedelta(0), timedelta(microseconds=1), -timedelta(microseconds=1)]
    ) | st.timedeltas(min_value=-timedelta(days=3), max_value=timedelta(days=3))
    expiry = st.none() | offsets.map(lambda offset: now + offset)
    return st.builds(GrantState, st.sampled_from(GrantStatus), expiry)


categories = st.builds(
    CategoryRule,
    key=st.sampled_from(CATEGORIES),
    kind=st.sampled_from(CategoryKind),
    required=st.booleans(),
    respect_quiet_hours=st.booleans(),
    fallback_channel=st.none() | st.sampled_from(CHANNELS),
    default_channels=channels,
)
policies = st.builds(
    TierPolicy,
    marketing_frequency=st.sampled_from(Frequency),
    daily_cap=caps,
    category_daily_cap=caps,
    digest_hour=st.integers(0, 23),
    weekly_digest_weekday=st.integers(0, 6),
)


@st.composite
def situations(draw: st.DrawFn) -> tuple[CategoryRule, str, Recipient, TierPolicy, datetime]:
    """Random situations, biased towards the channel asked for and its fallback so that the
    interesting paths (fallback taken, expiry at the boundary, a grant on the wrong channel or
    category) come up often rather than once in a thousand."""
    now = draw(clocks)
    category = draw(categories)
    channel = draw(st.sampled_from(CHANNELS))
    relevant = (
        [channel] if category.fallback_channel is None else [channel, category.fallback_channel]
    )
    grants = draw(
        st.dictionaries(
            st.tuples(st.sampled_from(CHANNELS), st.sampled_from(CATEGORIES)),
            grant_states(now),
            max_size=4,
        )
    )
    addresses = set(draw(channels))
    for ch in relevant:
        if draw(st.booleans()):
            grants[(ch, category.key)] = draw(grant_states(now))
        if draw(st.booleans()):
            addresses.add(ch)
        else:
            addresses.discard(ch)
    preference = draw(preferences())
    if preference is not None and draw(st.booleans()):
        preference = replace(preference, channels=(*preference.channels, *relevant))
    recipient = Recipient(
        customer_id="c1",
        timezone=draw(st.sampled_from(ZONES)),
        tier=draw(st.sampled_from(Tier)),
        addresses=frozenset(addresses),
        grants=grants,
        preference=preference,
        sent_today=draw(st.integers(0, 6)),
        sent_today_by_category=draw(
            st.dictionaries(st.sampled_from(CATEGORIES), st.integers(0, 6), max_size=3)
        ),
    )
    return category, channel, recipient, draw(policies), now


def has_live_grant(recipient: Recipient, channel: str, category: str, now: datetime) -> bool:
    grant = recipient.grants.get((channel, category))
    return (
        grant is not None
        and grant.status is GrantStatus.GRANTED
        and (grant.expires_at is None or grant.expires_at > now)
    )


def check_shape(decision: Decision, category: CategoryRule, asked: str, now: datetime) -> None:
    assert decision.channel in (asked, category.fallback_channel)
    assert (decision.reason is None) == (decision.status is DeliveryStatus.QUEUED)
    assert decision.status in (
        DeliveryStatus.QUEUED,
        DeliveryStatus.DEFERRED,
        DeliveryStatus.SUPPRESSED,
    )
    if decision.status is DeliveryStatus.DEFERRED:
        assert decision.reason in (QUIET_HOURS, DIGEST)
        assert decision.not_before is not None
        assert decision.not_before.utcoffset() == timedelta(0)
        assert decision.not_before > now
    else:
        assert decision.not_before is None
    assert decision.rules
    assert all(o.verdict in ("pass", "stop", "skip") and o.rule in RULES for o in decision.rules)
    if decision.status is DeliveryStatus.QUEUED:
        assert decision.rules[-1].rule == DIGEST and decision.rules[-1].verdict != "stop"
    else:
        assert (decision.rules[-1].rule, decision.rules[-1].verdict) == (decision.reason, "stop")
    # Per channel, the rules speak in the contract's order.
    for channel in {o.channel for o in decision.rules}:
        said = [RULES.index(o.rule) for o in decision.rules if o.channel == channel]
        assert said == list(range(len(said)))
    if category.required:
        for o in decision.rules:
            if o.rule not in ("NO_PERMISSION", "NO_ADDRESS"):
                assert (o.verdict, o.detail.rsplit(": ", 1)[-1]) == ("skip", "required")


@PROPERTY
@given(situations(), st.booleans())
def test_no_marketing_goes_ahead_without_an_unexpired_grant(situation, digest_due):
    category, channel, recipient, policy, now = situation
    decision = decide(category, channel, recipient, policy, now, digest_due=digest_due)
    check_shape(decision, category, channel, now)
    if category.kind is CategoryKind.MARKETING and decision.status in (
        DeliveryStatus.QUEUED,
        DeliveryStatus.DEFERRED,
    ):
        assert has_live_grant(recipient, decision.channel, category.key, now)
        assert decision.channel in recipient.addresses


@PROPERTY
@given(situations(), st.lists(st.sampled_from(CHANNELS), max_size=5))
def test_several_channels_keep_the_promise_and_reach_each_channel_once(situation, wanted):
    category, _, recipient, policy, now = situation
    decisions = decide_channels(category, wanted, recipient, policy, now)
    assert len(decisions) == len(set(wanted))
    going = [d.channel for d in decisions if d.status is not DeliveryStatus.SUPPRESSED]
    assert len(going) == len(set(going))
    for asked, decision in zip(dict.fromkeys(wanted), decisions, strict=True):
        check_shape(decision, category, asked, now)
        if category.kind is CategoryKind.MARKETING and decision.status in (
            DeliveryStatus.QUEUED,
            DeliveryStatus.DEFERRED,
        ):
            assert has_live_grant(recipient, decision.channel, category.key, now)
    queued = sum(d.status is DeliveryStatus.QUEUED for d in decisions)
    if category.kind is CategoryKind.MARKETING and not category.required:
        if policy.daily_cap is not None:
            assert queued <= max(0, policy.daily_cap - recipient.sent_today)
        if policy.category_daily_cap is not None:
            already = recipient.sent_today_by_category.get(category.key, 0)
            assert queued <= max(0, policy.category_daily_cap - already)


@PROPERTY
@given(situations())
def test_a_deferred_delivery_is_not_deferred_again_for_the_same_reason_at_its_time(situation):
    category, channel, recipient, policy, now = situation
    decision = decide(category, channel, recipient, policy, now)
    if decision.reason == QUIET_HOURS:
        later = decide(category, channel, recipient, policy, decision.not_before)
        assert later.reason != QUIET_HOURS
    if decision.reason == DIGEST:
        assert decision.not_before - now <= timedelta(days=8)
        released = decide(category, channel, recipient, policy, now, digest_due=True)
        assert released.reason != DIGEST


@PROPERTY
@given(st.sampled_from(ZONES), clocks)
def test_local_day_bounds_hold_now_and_last_about_a_day(timezone, now):
    start, end = local_day_bounds(timezone, now)
    assert start <= now < end
    assert timedelta(hours=22) <= end - start <= timedelta(hours=26)
    assert start.utcoffset() == end.utcoffset() == timedelta(0)
    assert local_day_bounds(timezone, start) == (start, end)


@PROPERTY
@given(situations(), st.integers(-14 * 60, 14 * 60))
def test_a_grant_expiring_exactly_now_permits_nothing(situation, offset_minutes):
    category, channel, recipient, policy, now = situation
    category = replace(category, kind=CategoryKind.MARKETING)
    # The same instant, written in whatever zone the store hands back.
    expiry = now.astimezone(timezone(timedelta(minutes=offset_minutes)))
    grants = dict(recipient.grants)
    for ch in {channel, category.fallback_channel} - {None}:
        grants[(ch, category.key)] = GrantState(GrantStatus.GRANTED, expiry)
    decision = decide(category, channel, replace(recipient, grants=grants), policy, now)
    assert decision.status is DeliveryStatus.SUPPRESSED
    if decision.channel == channel:
        assert decision.reason == "NO_PERMISSION"
