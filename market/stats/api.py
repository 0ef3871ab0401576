"""The statistics over JSON: the headline figures and the three tables."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from market.core.clock import utcnow
from market.stats import present, queries


class StatsApi(Controller):
    path = "/api/v1/stats"
    tags = ["stats"]

    @get(
        "/",
        summary="Market statistics: headline figures, and the same by category, prefecture and month",
        description="Live from the database. Money is integer fen; `savings` (1 − contract amounts / budget caps "
        "of the notices with a signed contract) and `on_time_rate` are ratios rounded to four decimals, null "
        "when there is nothing to compute them from. Months are China time, the last 12, oldest first.",
        cache=False,
    )
    async def stats(self, session: NamedDependency[AsyncSession]) -> dict[str, Any]:
        return present.stats_public(await queries.load(session, now=utcnow()))
