"""Every refusal of deliveryStats and consentStats: BAD_USER_INPUT with a stable reason and the
field at fault, before anything is read; and the settings' refusals at start."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import make_settings
from tidings.api.settings import SettingsError
from tidings.core.enums import Role

DELIVERY = """
query($from: DateTime!, $to: DateTime!, $g: [StatsDimension!]!, $f: StatsFilter, $tz: String) {
  deliveryStats(from: $from, to: $to, groupBy: $g, filter: $f, timezone: $tz) { attempted } }
"""
CONSENT = """
query($g: [StatsDimension!]!, $asOf: DateTime, $since: DateTime) {
  consentStats(groupBy: $g, asOf: $asOf, since: $since) { customers } }
"""
FROM, TO = "2026-03-01T00:00:00+00:00", "2026-03-02T00:00:00+00:00"
ALL = ["CATEGORY", "CHANNEL", "TIER", "DAY", "MESSAGE", "REASON"]


def delivery(**changes: Any) -> dict[str, Any]:
    return {"from": FROM, "to": TO, "g": ["CATEGORY"], **changes}


DELIVERY_CASES = {
    "unknown time zone": (delivery(tz="Mars/Olympus"), "UNKNOWN_TIMEZONE", "timezone"),
    "naive from": (delivery(**{"from": "2026-03-01T00:00:00"}), "NAIVE_DATETIME", "from"),
    "from off the quarter": (
        delivery(**{"from": "2026-03-01T00:07:00+00:00"}),
        "NOT_ON_QUARTER_HOUR",
        "from",
    ),
    "to off the quarter": (delivery(to="2026-03-02T00:00:01+00:00"), "NOT_ON_QUARTER_HOUR", "to"),
    "empty period": (delivery(to=FROM), "EMPTY_PERIOD", "to"),
    "reversed period": (delivery(to="2026-02-01T00:00:00+00:00"), "EMPTY_PERIOD", "to"),
    "period too long": (delivery(to="2027-06-01T00:00:00+00:00"), "PERIOD_TOO_LONG", "to"),
    "a dimension twice": (delivery(g=["DAY", "DAY"]), "DUPLICATE_DIMENSION", "groupBy"),
    "more than six dimensions": (delivery(g=[*ALL, "DAY"]), "TOO_MANY_DIMENSIONS", "groupBy"),
    **{
        f"{name} over 100": (
            delivery(f={name: values * 101}),
            "TOO_MANY_VALUES",
            f"filter.{name}",
        )
        for name, values in (
            ("categories", ["promos"]),
            ("channels", ["email"]),
            ("tiers", ["ORDINARY"]),
            ("messageIds", ["bm90LWFuLWlk"]),
            ("reasons", ["NO_PERMISSION"]),
        )
    },
}
CONSENT_CASES = {
    **{
        f"consent by {name}": ({"g": ["CATEGORY", name]}, "UNSUPPORTED_DIMENSION", "groupBy")
        for name in ("DAY", "MESSAGE", "REASON")
    },
    "consent dimension twice": ({"g": ["TIER", "TIER"]}, "DUPLICATE_DIMENSION", "groupBy"),
    "naive asOf": ({"g": [], "asOf": "2026-03-01T00:00:00"}, "NAIVE_DATETIME", "asOf"),
    "naive since": ({"g": [], "since": "2026-03-01T00:00:00"}, "NAIVE_DATETIME", "since"),
    "since after asOf": ({"g": [], "asOf": FROM, "since": TO}, "EMPTY_PERIOD", "since"),
    "since at asOf": ({"g": [], "asOf": FROM, "since": FROM}, "EMPTY_PERIOD", "since"),
    "since too early": (
        {"g": [], "asOf": FROM, "since": "2024-01-01T00:00:00+00:00"},
        "PERIOD_TOO_LONG",
        "since",
    ),
}


@pytest.mark.parametrize("case", sorted(DELIVERY_CASES))
async def test_delivery_stats_refuses(api, case: str):
    variables, reason, field = DELIVERY_CASES[case]
    _, token = await api.staff(Role.MARKETER)
    result = await api.gql(DELIVERY, variables, token)
    assert result["data"] == {"deliveryStats": None}, result
    [error] = result["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "reason": reason, "field": field}
    assert error["path"] == ["deliveryStats"]


@pytest.mark.parametrize("case", sorted(CONSENT_CASES))
async def test_consent_stats_refuses(api, case: str):
    variables, reason, field = CONSENT_CASES[case]
    _, token = await api.staff(Role.AUDITOR)
    result = await api.gql(CONSENT, variables, token)
    assert result["data"] == {"consentStats": None}, result
    [error] = result["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "reason": reason, "field": field}


async def test_a_refused_role_meets_forbidden_before_any_validation(api):
    _, token = await api.staff(Role.AGENT)
    result = await api.gql(DELIVERY, delivery(tz="Mars/Olympus"), token)
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    result = await api.gql(CONSENT, {"g": ["DAY"]}, token)
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_unknown_dimension_is_bad_input(api):
    _, token = await api.staff(Role.ADMIN)
    result = await api.gql(DELIVERY, delivery(g=["WEEKDAY"]), token)
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("value", ["0", "-3", "five", "2.5"])
def test_a_bad_min_group_stops_the_start(value: str):
    with pytest.raises(SettingsError, match="TIDINGS_STATS_MIN_GROUP"):
        make_settings("sqlite://:memory:", TIDINGS_STATS_MIN_GROUP=value)


def test_min_group_defaults_to_one_and_takes_a_whole_number():
    assert make_settings("sqlite://:memory:").stats_min_group == 1
    assert make_settings("sqlite://:memory:", TIDINGS_STATS_MIN_GROUP="10").stats_min_group == 10
