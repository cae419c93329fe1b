"""The tier policy in force goes into the audit log when `serve` or `worker` starts, so an
auditor can tell which caps and digest times applied when: `settings.tier_policy`, recorded
only when it differs from the last such entry (restarts with the same setting add nothing)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from tidings.core.audit import record
from tidings.core.audit.log import AUDIT_LOCK
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.models import AuditEntry

TIER_POLICY = "settings.tier_policy"


def policy_detail(tiers: TierPolicies) -> dict[str, Any]:
    """The policies as plain JSON: {"HIGH_VALUE": {"marketing_frequency": "REALTIME", ...}}."""
    return {
        tier.value: {name: getattr(value, "value", value) for name, value in asdict(policy).items()}
        for tier, policy in sorted(tiers.policies.items(), key=lambda item: item[0].value)
    }


async def record_tier_policy(tiers: TierPolicies) -> bool:
    """Record the policy unless the last such entry holds the same; True when recorded. The
    audit lock is taken first, so two processes starting at once record it once."""
    detail = policy_detail(tiers)
    async with in_transaction() as conn:
        if connections.get("default").capabilities.dialect == "postgres":
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [AUDIT_LOCK])
        last = await AuditEntry.filter(action=TIER_POLICY).order_by("-id").first()
        if last is not None and last.detail == detail:
            return False
        await record(TIER_POLICY, actor="system", detail=detail)
    return True
