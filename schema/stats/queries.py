"""deliveryStats and consentStats: rates and consent counts for ADMIN, MARKETER and AUDITOR."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from tidings.core.enums import Role
from tidings.core.stats.consent import consent_query
from tidings.core.stats.rows import DeliveryStatsQuery
from tidings.core.stats.rows import StatsFilter as CoreFilter
from tidings.schema.context import Info
from tidings.schema.enums import StatsDimensionEnum
from tidings.schema.permissions import staff_roles
from tidings.schema.stats.types import ConsentStatsRow, StatsFilter, StatsRow

STATS_READERS = staff_roles(Role.ADMIN, Role.MARKETER, Role.AUDITOR)
GROUP_BY = "The dimensions to group by (at most 6; none: one row for everything)."


@strawberry.type
class StatsQueries:
    @strawberry.field(
        permission_classes=[STATS_READERS],
        description="Delivery counts and rates over deliveries created in [from, to), grouped "
        "(ADMIN, MARKETER, AUDITOR). from and to fall on a quarter hour, at most 400 days "
        "apart; at most 10,000 rows (else BAD_USER_INPUT: narrow the query). See docs/stats.md.",
    )
    async def delivery_stats(
        self,
        info: Info,
        from_: Annotated[
            datetime,
            strawberry.argument(name="from", description="Start (inclusive), on a quarter hour."),
        ],
        to: Annotated[
            datetime, strawberry.argument(description="End (exclusive), on a quarter hour.")
        ],
        group_by: Annotated[list[StatsDimensionEnum], strawberry.argument(description=GROUP_BY)],
        filter: Annotated[
            StatsFilter | None, strawberry.argument(description="Only these deliveries.")
        ] = None,
        timezone: Annotated[
            str, strawberry.argument(description="The IANA time zone DAY is counted in.")
        ] = "UTC",
    ) -> list[StatsRow] | None:
        ctx = info.context
        query = DeliveryStatsQuery(
            start=from_,
            end=to,
            group_by=tuple(group_by),
            filter=filter.to_core() if filter else CoreFilter(),
            timezone=timezone,
        )
        rows = await ctx.services.stats.delivery_stats(ctx.viewer, query)
        return [StatsRow.from_row(row) for row in rows]

    @strawberry.field(
        permission_classes=[STATS_READERS],
        description="Where permission stands per customer × category × channel pair, grouped "
        "by CATEGORY, CHANNEL and TIER only (ADMIN, MARKETER, AUDITOR). See docs/stats.md.",
    )
    async def consent_stats(
        self,
        info: Info,
        group_by: Annotated[list[StatsDimensionEnum], strawberry.argument(description=GROUP_BY)],
        as_of: Annotated[
            datetime | None,
            strawberry.argument(description="The moment to answer for; default now."),
        ] = None,
        since: Annotated[
            datetime | None,
            strawberry.argument(
                description="Where the withdrawals' period starts (it ends at asOf); default "
                "30 days before asOf."
            ),
        ] = None,
    ) -> list[ConsentStatsRow] | None:
        ctx = info.context
        query = consent_query(tuple(group_by), as_of, since)
        rows = await ctx.services.stats.consent_stats(ctx.viewer, query)
        return [ConsentStatsRow.from_row(row) for row in rows]
