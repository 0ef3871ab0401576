"""The dashboard's figures, read live with two GROUP BY GROUPING SETS queries: one over
published notices (with their selection and contracts), one over approved agencies. Each
gives the whole market and the rows by category, by prefecture and by month at once.

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
    scope: Scope | None = None  # None: the province

    def table(self, name: str) -> list[Row]:
        return {"category": self.by_category, "region": self.by_region, "month": self.by_month}[name]


def _local(column: sa.ColumnExpressionArgument[datetime | None]) -> sa.ColumnElement[datetime]:
    return sa.func.timezone(TZ, column)


def _month(column: sa.ColumnExpressionArgument[datetime | None]) -> sa.ColumnElement[str]:
    return sa.func.to_char(_local(column), "YYYY-MM")


def _prefecture(column: sa.ColumnExpressionArgument[str]) -> sa.ColumnElement[str]:
    return sa.func.substr(column, 1, 4).concat("00")


def _grouping_sets(*columns: sa.ColumnExpressionArgument[Any]) -> sa.ColumnElement[Any]:
    """``GROUPING SETS ((), (a), (b), ...)``: the total and one grouping per column."""
    return sa.func.grouping_sets(sa.text("()"), *[sa.tuple_(c) for c in columns])


async def _notice_figures(
    session: AsyncSession, halls: list[str] | None = None
) -> dict[tuple[str, str], Figures]:
    """``halls``: only the notices of these halls (a jurisdiction rolled up); None: all."""
    on_time = sa.and_(
        col(Contract.status) == ContractStatus.completed.value,
        col(Contract.completed_at).is_not(None),
        sa.cast(_local(col(Contract.completed_at)), sa.Date) <= Contract.due_on,
    )
    per_notice = (
        sa.select(
            col(Contract.notice_id).label("notice_id"),
            sa.func.count().label("signed"),
            sa.func.count().filter(col(Contract.status) == ContractStatus.completed.value).label("completed"),
            sa.func.count().filter(on_time).label("on_time"),
            sa.func.sum(Contract.amount_fen).label("amount"),
        )
        .where(col(Contract.status).in_(SIGNED))
        .group_by(col(Contract.notice_id))
        .subquery("c")
    )
    category = col(Notice.category)
    prefecture = _prefecture(col(Notice.region))
    month = _month(col(Notice.published_at))
    stmt = (
        sa.select(
            sa.func.grouping(category).label("g_category"),
            sa.func.grouping(prefecture).label("g_region"),
            sa.func.grouping(month).label("g_month"),
            category.label("category"),
            prefecture.label("region"),
            month.label("month"),
            sa.func.count(col(Notice.id)).label("notices"),
            sa.func.count(col(Selection.notice_id)).label("selections"),
            sa.func.coalesce(sa.func.sum(per_notice.c.signed), 0).label("signed"),
            sa.func.coalesce(sa.func.sum(per_notice.c.completed), 0).label("completed"),
            sa.func.coalesce(sa.func.sum(per_notice.c.on_time), 0).label("on_time"),
            sa.func.coalesce(sa.func.sum(per_notice.c.amount), 0).label("amount"),
            sa.func.coalesce(
                sa.func.sum(Notice.budget_fen).filter(per_notice.c.notice_id.is_not(None)), 0
            ).label("budget"),
        )
        .select_from(Notice)
        .outerjoin(per_notice, per_notice.c.notice_id == Notice.id)
        .outerjoin(
            Selection, sa.and_(col(Selection.notice_id) == Notice.id, col(Selection.outcome).in_(SELECTED))
        )
        .where(col(Notice.published_at).is_not(None))
        .where(in_halls(col(Notice.hall), halls) if halls is not None else sa.true())
        .group_by(_grouping_sets(category, prefecture, month))
    )
    out: dict[tuple[str, str], Figures] = {}
    for r in (await session.execute(stmt)).mappings():
        figures = Figures(
            notices=int(r["notices"]),
            selections=int(r["selections"]),
            signed=int(r["signed"]),
            completed=int(r["completed"]),
            on_time=int(r["on_time"]),
            amount_fen=int(r["amount"]),
            budget_fen=int(r["budget"]),
        )
        out[_key(r)] = figures
    return out


async def _agency_counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    category = col(AgencyCategory.category)
    prefecture = _prefecture(col(Agency.region))
    month = _month(col(Agency.created_at))
    stmt = (
        sa.select(
            sa.func.grouping(category).label("g_category"),
            sa.func.grouping(prefecture).label("g_region"),
            sa.func.grouping(month).label("g_month"),
            category.label("category"),
            prefecture.label("region"),
            month.label("month"),
            sa.func.count(sa.distinct(col(Agency.id))).label("agencies"),
        )
        .select_from(Agency)
        .outerjoin(AgencyCategory, col(AgencyCategory.agency_id) == Agency.id)
        .where(col(Agency.status) == AgencyStatus.approved.value)
        .group_by(_grouping_sets(category, prefecture, month))
    )
    return {_key(r): int(r["agencies"]) for r in (await session.execute(stmt)).mappings()}


def _key(r: sa.RowMapping) -> tuple[str, str]:
    if not r["g_category"]:
        return ("category", r["category"] or "")
    if not r["g_region"]:
        return ("region", r["region"] or "")
    if not r["g_month"]:
        return ("month", r["month"] or "")
    return ("total", "")


def _region_names(code: str) -> tuple[str, str]:
    if code == YUNNAN:
        return "云南省（省级）", "Yunnan (province level)"
    try:
        r = regions.region(code)
    except regions.UnknownRegion:
        return code, code
    return r.name_zh, r.name_en


async def hall_totals(session: AsyncSession, halls: list[str] | None) -> Figures:
    """The notice figures of a jurisdiction rolled up (``halls``: the codes it reaches; None:
    the whole province), for the hall's page. Agencies are province-wide and not counted."""
    return (await _notice_figures(session, halls)).get(("total", ""), Figures())


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


async def load(session: AsyncSession, *, now: datetime, scope: Scope | None = None) -> Stats:
    """Everything the page, the CSV files and the API show, in two queries: the notices of
    ``scope`` rolled up (None: the province); agencies are province-wide, always all."""
    notices = await _notice_figures(session, scope.codes if scope is not None else None)
    agencies = await _agency_counts(session)

    def figures(kind: str, key: str) -> Figures:
        return replace(notices.get((kind, key), Figures()), agencies=agencies.get((kind, key), 0))

    by_category = [
        Row(c.code, c.name_zh, c.name_en, figures("category", c.code)) for c in catalogue.CATEGORIES
    ]

    # Every prefecture of Yunnan, then the province-level notices, then anything elsewhere.
    region_codes = [YUNNAN] + [r.code for r in regions.children(YUNNAN)]
    seen = {k for kind, k in (*notices, *agencies) if kind == "region"}
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
