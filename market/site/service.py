"""The home page's data: the same for every visitor, assembled in one transaction and kept
for a few seconds by the page (market/site/cache.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import service as accounts
from market.agencies import queries as agencies
from market.core.clock import utcnow
from market.halls import queries as halls_queries
from market.halls import rules as halls_rules
from market.halls import service as halls
from market.notices.models import Notice
from market.site import queries
from market.stats.rules import Figures


@dataclass(frozen=True)
class HomeNotice:
    """A line of the latest notices or results: plain values, safe to keep between requests
    (an ORM object would be tied to the session that loaded it)."""

    public_id: str
    title: str
    status: str
    category: str
    region: str
    budget_fen: int
    bid_deadline: datetime | None
    published_at: datetime | None
    holders: tuple[str, ...] = ()  # results: the agencies holding the awards


@dataclass(frozen=True)
class HomeHall:
    code: str
    kind: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Home:
    notices: tuple[HomeNotice, ...]  # open for bids, newest first
    results: tuple[HomeNotice, ...]  # selected, awarded or failed, newest first
    figures: Figures  # the province's, as /stats shows them
    counts: dict[str, int]  # active accounts by role
    agency_counts: dict[str, int]  # agencies by status
    halls: tuple[HomeHall, ...]  # the province and its prefectures
    made_at: datetime


def _line(n: Notice, holders: tuple[str, ...] = ()) -> HomeNotice:
    return HomeNotice(
        public_id=n.public_id,
        title=n.title,
        status=n.status,
        category=n.category,
        region=n.region,
        budget_fen=n.budget_fen,
        bid_deadline=n.bid_deadline,
        published_at=n.published_at,
        holders=holders,
    )


async def home(session: AsyncSession) -> Home:
    """The province's hall overview (its open notices, latest results and figures, as on
    /halls/530000), who holds each result's awards, the account and agency counts and the
    top halls."""
    province = await halls.overview(session, halls_rules.PROVINCE)
    held = await queries.holders(session, [n.id for n in province.results if n.id is not None])
    return Home(
        notices=tuple(_line(n) for n in province.open_notices),
        results=tuple(_line(n, held.get(n.id or 0, ())) for n in province.results),
        figures=province.figures,
        counts=await accounts.count_by_role(session),
        agency_counts=await agencies.counts(session),
        halls=tuple(
            HomeHall(h.code, h.kind, h.name_zh, h.name_en) for h in await halls_queries.top_halls(session)
        ),
        made_at=utcnow(),
    )
