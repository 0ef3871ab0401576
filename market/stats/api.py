"""The statistics over JSON: the headline figures and the three tables."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.core.clock import utcnow
from market.stats import present, queries


class StatsApi(Controller):
    path = "/api/v1/stats"
    tags = ["stats"]

    @get(
        "/",
        summary="Market statistics: headline figures, and the same by category, prefecture and month",
        description="From a summary the server computes in the background (every minute by default, "
        "everything once a day): `as_of` is when the figures were computed, null before the first "
        "computation; `generated_at` is when this answer was made. Money is integer fen; `savings` (1 − contract amounts / budget caps "
        "of the notices with a signed contract) and `on_time_rate` are ratios rounded to four decimals, null "
        "when there is nothing to compute them from. Months are China time, the last 12, oldest first.",
        cache=False,
    )
    async def stats(
        self,
        session: NamedDependency[AsyncSession],
        jurisdiction: Annotated[
            str | None,
            Parameter(
                description="A hall's code (the province, a prefecture, a county or a park): its figures rolled up "
                "over every hall below it. Absent: the province. Agencies are province-wide: always all of them."
            ),
        ] = None,
    ) -> dict[str, Any]:
        scope = await queries.scope_of(session, jurisdiction)
        return present.stats_public(await queries.load(session, now=utcnow(), scope=scope))
