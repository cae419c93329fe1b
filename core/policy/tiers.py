"""Tier policy: what a customer gets where they have set no preference of their own, and the
daily caps. Configurable per tier through the TIDINGS_TIER_POLICY setting (a JSON mapping)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from tidings.core.enums import Frequency, Tier


@dataclass(frozen=True)
class TierPolicy:
    """Defaults for one tier. Caps count capped deliveries (see `counts_toward_caps`) in the
    customer's local day; None means no cap. Digest times are in the customer's timezone."""

    marketing_frequency: Frequency
    daily_cap: int | None
    category_daily_cap: int | None
    digest_hour: int = 9
    weekly_digest_weekday: int = 0  # Monday, as date.weekday()

    def __post_init__(self) -> None:
        object.__setattr__(self, "marketing_frequency", Frequency(self.marketing_frequency))
        for name in ("daily_cap", "category_daily_cap"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 0):
                raise ValueError(f"{name} must be a whole number >= 0 or None, not {value!r}")
        if not _is_int(self.digest_hour) or not 0 <= self.digest_hour <= 23:
            raise ValueError(f"digest_hour must be 0-23, not {self.digest_hour!r}")
        if not _is_int(self.weekly_digest_weekday) or not 0 <= self.weekly_digest_weekday <= 6:
            raise ValueError(
                f"weekly_digest_weekday must be 0 (Monday) to 6, not {self.weekly_digest_weekday!r}"
            )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


DEFAULT_TIER_POLICIES: Mapping[Tier, TierPolicy] = {
    Tier.HIGH_VALUE: TierPolicy(Frequency.REALTIME, daily_cap=10, category_daily_cap=3),
    Tier.POTENTIAL: TierPolicy(Frequency.REALTIME, daily_cap=5, category_daily_cap=2),
    Tier.ORDINARY: TierPolicy(Frequency.DAILY_DIGEST, daily_cap=3, category_daily_cap=1),
}


class TierPolicyError(ValueError):
    """The tier-policy setting cannot be read. `where` names the offending entry, e.g.
    "ORDINARY.daily_cap", so whoever set it can fix it."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"tier policy {where}: {problem}" if where else f"tier policy: {problem}")


_FIELDS = {field.name for field in fields(TierPolicy)}


def parse_tier_policies(
    raw: str | Mapping[str, object], base: Mapping[Tier, TierPolicy] = DEFAULT_TIER_POLICIES
) -> dict[Tier, TierPolicy]:
    """Read a JSON mapping of tier name to overrides, for example
    `{"ORDINARY": {"marketing_frequency": "WEEKLY_DIGEST", "daily_cap": 2}}`.

    Tiers and fields left out keep `base`; unknown tiers, unknown fields and bad values raise
    TierPolicyError naming the entry, at start-up rather than at the first send.
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as error:
            raise TierPolicyError("", f"not valid JSON ({error.msg} at {error.pos})") from None
    if not isinstance(raw, Mapping):
        raise TierPolicyError("", "must be a JSON object keyed by tier")
    policies = dict(base)
    for tier_name, overrides in raw.items():
        try:
            tier = Tier(str(tier_name).upper())
        except ValueError:
            known = ", ".join(t.value for t in Tier)
            raise TierPolicyError(str(tier_name), f"unknown tier (known: {known})") from None
        if not isinstance(overrides, Mapping):
            raise TierPolicyError(tier.value, "must be an object of policy fields")
        values: dict[str, object] = {}
        for key, value in overrides.items():
            where = f"{tier.value}.{key}"
            if key not in _FIELDS:
                known = ", ".join(sorted(_FIELDS))
                raise TierPolicyError(where, f"unknown field (known: {known})")
            if key == "marketing_frequency":
                try:
                    value = Frequency(str(value).upper())
                except ValueError:
                    known = ", ".join(f.value for f in Frequency)
                    raise TierPolicyError(where, f"must be one of {known}") from None
            values[key] = value
        try:
            current = policies.get(tier)
            policies[tier] = (
                replace(current, **values) if current is not None else TierPolicy(**values)  # type: ignore[arg-type]
            )
        except (TypeError, ValueError) as error:
            raise TierPolicyError(tier.value, str(error)) from None
    return policies
