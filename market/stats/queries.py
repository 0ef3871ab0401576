"""The dashboard's figures. Computed from the records by two GROUP BY GROUPING SETS
queries, one over published notices (with their selection and contracts), one over
approved agencies, each giving the whole market and the rows by category, by prefecture
and by month at once; per hall, those rows are the summary (market/stats/summary.py keeps
it), which the pages and the API read: a jurisdiction's figures are the sums of its halls'
rows, a few thousand rows whatever the number of notices.

Months and dates are China time. Money stays integer fen; ratios are left to rules.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.agencies.models import Agency, AgencyCategory, AgencyStatus
from market.contracts.models import Contract, ContractStatus
from market.core.clock import CHINA
from market.core.errors import FieldError, InvalidInput
from market.core.i18n import N_
from market.halls import queries as hall_queries
from market.halls import rules as halls_rules
from market.halls.queries import in_halls
from market.notices.models import Notice
from market.reference import catalogue, regions
from market.selection.models import Outcome, Selection
from market.stats.models import AGENCIES, StatsFigure, StatsRefresh
from market.stats.rules import Figures, last_months

SIGNED = (ContractStatus.in_service.value, ContractStatus.completed.value, ContractStatus.stopped.value)
SELECTED = (Outcome.drawn.value, Outcome.direct.value)
YUNNAN = "530000"
MONTHS = 12
TZ = "Asia/Shanghai"
HALL_CODE = re.compile(r"[0-9]{6}[0-9A-Z]{0,6}")  # the shape of a hall's code, checked before SQL


@dataclass(frozen=True)
class Row:
    key: str
    name_zh: str
    name_en: str
    figures: Figures


@dataclass(frozen=True)
class Scope:
    """The jurisdiction a dashboard shows, rolled up: the hall and the codes it reaches
    (``codes`` None: the province, every notice)."""

    code: str
    name_zh: str
    name_en: str
    kind: str
    codes: list[str] | None


@dataclass
class Stats:
    total: Figures
    by_category: list[Row] = field(default_factory=list)
    by_region: list[Row] = field(default_factory=list)
    by_month: list[Row] = field(default_factory=list)
    generated_at: datetime | None = None
    as_of: datetime | None = None  # when the summary read was computed; None: not yet
    scope: Scope | None = None  # None: the province

    def table(self, name: str) -> list[Row]:
        return {"category": self.by_category, "region": self.by_region, "month": self.by_month}[name]


def _local(column: sa.ColumnExpressionArgument[datetime | None]) -> sa.ColumnElement[datetime]:
    return sa.func.timezone(TZ, column)


def _month(column: sa.ColumnExpressionArgument[datetime | None]) -> sa.ColumnElement[str]:
    return sa.func.to_char(_local(column), "YYYY-MM")


def _prefecture(column: sa.ColumnExpressionArgument[str]) -> sa.ColumnElement[str]:
    return sa.func.substr(column, 1, 4).concat("00")


def _grouping_sets(*columns: sa.ColumnExpressionArgument[Any], within: Any = None) -> sa.ColumnElement[Any]:
    """``GROUPING SETS ((), (a), (b), ...)``: the total and one grouping per column; with
    ``within``, the same inside each of its values (``((h), (h, a), (h, b), ...)``)."""
    lead = [] if within is None else [within]
    return sa.func.grouping_sets(
        sa.tuple_(*lead) if lead else sa.text("()"), *[sa.tuple_(*lead, c) for c in columns]
    )


def _kind_and_key(
    category: Any, prefecture: sa.ColumnElement[str], month: sa.ColumnElement[str]
) -> tuple[sa.ColumnElement[str], sa.ColumnElement[str]]:
    """Which grouping a row of the grouping sets is (``total``, ``category``, ``region``,
    ``month``) and its key ("" for the total)."""
    kind = sa.case(
        (sa.func.grouping(category) == 0, "category"),
        (sa.func.grouping(prefecture) == 0, "region"),
        (sa.func.grouping(month) == 0, "month"),
        else_="total",
    )
    key = sa.case(
        (sa.func.grouping(category) == 0, sa.func.coalesce(category, "")),
        (sa.func.grouping(prefecture) == 0, sa.func.coalesce(prefecture, "")),
        (sa.func.grouping(month) == 0, sa.func.coalesce(month, "")),
        else_="",
    )
    return kind.label("kind"), key.label("key")


NOTICE_MEASURES = ("notices", "selections", "signed", "completed", "on_time", "amount_fen", "budget_fen")


def notice_figures_select(halls: list[str] | None = None, *, by_hall: bool = False) -> sa.Select[Any]:
    """The notice figures computed from the records: one row per (kind, key) over the
    published notices of ``halls`` (None: all); with ``by_hall``, one per (hall, kind,
    key), the summary's rows (market/stats/summary.py), whose sums over a jurisdiction's
    halls are that jurisdiction's figures."""
    on_time = sa.and_(
        col(Contract.status) == ContractStatus.completed.value,
        col(Contract.completed_at).is_not(None),
        sa.cast(_local(col(Contract.completed_at)), sa.Date) <= Contract.due_on,
    )
    per_contract = [
        sa.func.count().label("signed"),
        sa.func.count().filter(col(Contract.status) == ContractStatus.completed.value).label("completed"),
        sa.func.count().filter(on_time).label("on_time"),
        sa.func.sum(Contract.amount_fen).label("amount"),
    ]
    per_notice: Any
    if halls is None:
        # Every notice: one aggregate of every signed contract, hash-joined.
        per_notice = (
            sa.select(col(Contract.notice_id).label("notice_id"), *per_contract)
            .where(col(Contract.status).in_(SIGNED))
            .group_by(col(Contract.notice_id))
            .subquery("c")
        )
        joined = per_notice.c.notice_id == Notice.id
    else:
        # A few halls (a jurisdiction, or a refresh of the halls that changed): each notice's
        # own contracts by ix_contract_notice_id, so the cost is the halls' notices, not an
        # aggregate of every contract (a sequential scan of ``contract`` otherwise).
        per_notice = (
            sa.select(*per_contract)
            .where(col(Contract.notice_id) == Notice.id, col(Contract.status).in_(SIGNED))
            .lateral("c")
        )
        joined = sa.true()
    category = col(Notice.category)
    prefecture = _prefecture(col(Notice.region))
    month = _month(col(Notice.published_at))
    hall = col(Notice.hall)
    kind, key = _kind_and_key(category, prefecture, month)
    stmt = (
        sa.select(
            *([hall.label("hall")] if by_hall else []),
            kind,
            key,
            sa.func.count(col(Notice.id)).label("notices"),
            sa.func.count(col(Selection.notice_id)).label("selections"),
            sa.func.coalesce(sa.func.sum(per_notice.c.signed), 0).label("signed"),
            sa.func.coalesce(sa.func.sum(per_notice.c.completed), 0).label("completed"),
            sa.func.coalesce(sa.func.sum(per_notice.c.on_time), 0).label("on_time"),
            sa.func.coalesce(sa.func.sum(per_notice.c.amount), 0).label("amount_fen"),
            sa.func.coalesce(
                # the notices with a signed contract (none: no row, or a count of 0)
                sa.func.sum(Notice.budget_fen).filter(per_notice.c.signed > 0),
                0,
            ).label("budget_fen"),
        )
        .select_from(Notice)
        .outerjoin(per_notice, joined)
        .outerjoin(
            Selection, sa.and_(col(Selection.notice_id) == Notice.id, col(Selection.outcome).in_(SELECTED))
        )
        .where(col(Notice.published_at).is_not(None))
        .where(in_halls(hall, halls) if halls is not None else sa.true())
        .group_by(_grouping_sets(category, prefecture, month, within=hall if by_hall else None))
    )
    return stmt


def agency_counts_select() -> sa.Select[Any]:
    """The approved agencies counted from the records, province-wide: one row per (kind,
    key), each agency once in a row whatever its number of categories."""
    category = col(AgencyCategory.category)
    prefecture = _prefecture(col(Agency.region))
    month = _month(col(Agency.created_at))
    kind, key = _kind_and_key(category, prefecture, month)
    return (
        sa.select(kind, key, sa.func.count(sa.distinct(col(Agency.id))).label("agencies"))
        .select_from(Agency)
        .outerjoin(AgencyCategory, col(AgencyCategory.agency_id) == Agency.id)
        .where(col(Agency.status) == AgencyStatus.approved.value)
        .group_by(_grouping_sets(category, prefecture, month))
    )


def _figures(r: sa.RowMapping, agencies: int = 0) -> Figures:
    return Figures(agencies=agencies, **{name: int(r[name] or 0) for name in NOTICE_MEASURES})


async def live_figures(
    session: AsyncSession, halls: list[str] | None = None
) -> dict[tuple[str, str], Figures]:
    """The figures computed from the records, now: what the summary holds as of its last
    refresh, read in one pass over every published notice of ``halls`` (None: all) and
    every approved agency. Too slow for a request at scale (hundreds of ms at 100,000
    notices, ten times that at 1,000,000); the tests hold the summary equal to it."""
    notices = {
        (r["kind"], r["key"]): _figures(r)
        for r in (await session.execute(notice_figures_select(halls))).mappings()
    }
    agencies = {
        (r["kind"], r["key"]): int(r["agencies"])
        for r in (await session.execute(agency_counts_select())).mappings()
    }
    return {
        k: replace(notices.get(k, Figures()), agencies=agencies.get(k, 0))
        for k in sorted({*notices, *agencies})
    }


async def summary_figures(
    session: AsyncSession, halls: list[str] | None = None
) -> tuple[dict[tuple[str, str], Figures], datetime | None]:
    """The figures of ``halls`` (None: all) from the summary, with the time they are as of
    (None: never computed, and no figures). One statement: the sums over the halls' rows
    and the agencies' rows by kind and key (a few thousand rows for the province, whatever
    the number of notices), and the refresh's time, from one snapshot, so the figures and
    their time always belong together."""
    f = StatsFigure
    sums = (
        sa.select(
            col(f.kind).label("kind"),
            col(f.key).label("key"),
            *[sa.func.sum(getattr(f, name)).label(name) for name in ("agencies", *NOTICE_MEASURES)],
        )
        .where(in_halls(col(f.hall), [*halls, AGENCIES]) if halls is not None else sa.true())
        .group_by(col(f.kind), col(f.key))
        .lateral("f")
    )
    stmt = sa.select(col(StatsRefresh.as_of), sums).select_from(StatsRefresh).outerjoin(sums, sa.true())
    out: dict[tuple[str, str], Figures] = {}
    as_of = None
    for r in (await session.execute(stmt)).mappings():
        as_of = r["as_of"]
        if r["kind"] is not None:
            out[(r["kind"], r["key"])] = _figures(r, int(r["agencies"] or 0))
    return out, as_of


def _region_names(code: str) -> tuple[str, str]:
    if code == YUNNAN:
        return "云南省（省级）", "Yunnan (province level)"
    try:
        r = regions.region(code)
    except regions.UnknownRegion:
        return code, code
    return r.name_zh, r.name_en


async def hall_totals(session: AsyncSession, halls: list[str] | None) -> tuple[Figures, datetime | None]:
    """The notice figures of a jurisdiction rolled up (``halls``: the codes it reaches; None:
    the whole province) from the summary, for the hall's page, and the time they are as of.
    Agencies are province-wide and not counted: a few rows of the summary (a hall's totals)."""
    f = StatsFigure
    sums = (
        sa.select(*[sa.func.sum(getattr(f, name)).label(name) for name in NOTICE_MEASURES])
        .where(col(f.kind) == "total")
        .where(in_halls(col(f.hall), halls) if halls is not None else col(f.hall) != AGENCIES)
        .lateral("f")
    )
    stmt = sa.select(col(StatsRefresh.as_of), sums).select_from(StatsRefresh).outerjoin(sums, sa.true())
    r = (await session.execute(stmt)).mappings().first()
    if r is None:
        return Figures(), None
    return _figures(r), r["as_of"]


UNKNOWN_JURISDICTION = N_("Unknown jurisdiction: {code}.")


async def scope_of(session: AsyncSession, code: str | None) -> Scope:
    """The dashboard's ``jurisdiction`` parameter, checked: a hall's code (empty: the
    province). Its figures roll up over every hall it reaches; an unknown code is refused
    beside the parameter (422)."""
    code = (code or "").strip() or halls_rules.PROVINCE
    hall = await hall_queries.get_hall(session, code) if HALL_CODE.fullmatch(code) else None
    if hall is None:
        raise InvalidInput(
            N_("Unknown jurisdiction."), [FieldError("jurisdiction", UNKNOWN_JURISDICTION, {"code": code})]
        )
    codes = await hall_queries.codes_under(session, hall.code)
    return Scope(hall.code, hall.name_zh, hall.name_en, hall.kind, codes)


async def load(
    session: AsyncSession, *, now: datetime, scope: Scope | None = None, live: bool = False
) -> Stats:
    """Everything the page, the CSV files and the API show, from the summary (one query,
    ``summary_figures``): the notices of ``scope`` rolled up (None: the province); agencies
    are province-wide, always all. ``live``: computed from the records instead (the tests'
    reference; too slow for a request at scale)."""
    halls = scope.codes if scope is not None else None
    as_of: datetime | None = now
    if live:
        found = await live_figures(session, halls)
    else:
        found, as_of = await summary_figures(session, halls)

    def figures(kind: str, key: str) -> Figures:
        return found.get((kind, key), Figures())

    by_category = [
        Row(c.code, c.name_zh, c.name_en, figures("category", c.code)) for c in catalogue.CATEGORIES
    ]

    # Every prefecture of Yunnan, then the province-level notices, then anything elsewhere.
    region_codes = [YUNNAN] + [r.code for r in regions.children(YUNNAN)]
    seen = {k for kind, k in found if kind == "region"}
    region_codes += sorted(seen - set(region_codes))
    by_region = [Row(code, *_region_names(code), figures("region", code)) for code in region_codes]
    by_region.sort(key=lambda row: row.key != YUNNAN)  # keep the province-level row first

    local = now.astimezone(CHINA)
    by_month = [Row(m, m, m, figures("month", m)) for m in last_months(local.year, local.month, MONTHS)]
    return Stats(
        total=figures("total", ""),
        by_category=by_category,
        by_region=by_region,
        by_month=by_month,
        generated_at=now,
        as_of=as_of,
        scope=scope,
    )


async def selector(session: AsyncSession, scope: Scope | None) -> list[tuple[str, str, str, int]]:
    """The dashboard's choice of jurisdiction, kept small: the province and its prefectures,
    and for a chosen prefecture (or a hall under one) its counties and parks. Each as
    (code, name_zh, name_en, depth), a hall after its parent."""
    chosen = scope.code if scope is not None else halls_rules.PROVINCE
    levels = halls_rules.chain(chosen)
    prefecture = levels[-2] if len(levels) >= 2 else None
    out = []
    for hall in await hall_queries.all_halls(session):
        if hall.kind in ("province", "prefecture") or (
            prefecture is not None and halls_rules.strictly_above(prefecture, hall.code)
        ):
            out.append(hall)
    out.sort(key=lambda h: [(h.kind == "park", c) for c in reversed(halls_rules.chain(h.code))])
    return [(h.code, h.name_zh, h.name_en, halls_rules.depth(h.code)) for h in out]
