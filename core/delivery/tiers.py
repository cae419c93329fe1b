"""The tier policies in force: the defaults, overridden by the TIDINGS_TIER_POLICY setting."""

from __future__ import annotations

from collections.abc import Mapping

from tidings.core.enums import Tier
from tidings.core.policy import DEFAULT_TIER_POLICIES, TierPolicy, parse_tier_policies


class TierPolicies:
    def __init__(self, policies: Mapping[Tier, TierPolicy] = DEFAULT_TIER_POLICIES) -> None:
        self.policies = dict(policies)

    @classmethod
    def from_setting(cls, raw: str | None) -> TierPolicies:
        """Parse the JSON setting; a bad one raises `TierPolicyError` at start-up."""
        return cls(parse_tier_policies(raw) if raw else DEFAULT_TIER_POLICIES)

    def for_tier(self, tier: Tier) -> TierPolicy:
        return self.policies[tier]
