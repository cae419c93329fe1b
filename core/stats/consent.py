"""`consentStats`: where permission stands per category × channel × tier."""

from __future__ import annotations

from tidings.core.stats.rows import ConsentStatsQuery, ConsentStatsRow


async def consent_stats(query: ConsentStatsQuery) -> list[ConsentStatsRow]:
    raise NotImplementedError("issue 13: the stats-api helper writes this")
